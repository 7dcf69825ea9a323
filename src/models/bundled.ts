// The models shipped inside the worker bundle: one import pair per model folder (models/<name>/), its card
// and its int8 ONNX file (wrangler rule Data: an ArrayBuffer). To serve another model, add its pair here;
// the first entry is the default.
import fmnistSmallCard from '../../models/fmnist-small/model.json';
import fmnistSmallInt8 from '../../models/fmnist-small/unet.int8.onnx';
import fmnistTinyCard from '../../models/fmnist-tiny/model.json';
import fmnistTinyInt8 from '../../models/fmnist-tiny/unet.int8.onnx';
import fixtureTinyCard from '../../models/fixture-tiny/model.json';
import fixtureTinyInt8 from '../../models/fixture-tiny/unet.int8.onnx';
import { createRegistry, parseModelCard, type ModelRegistry } from './registry.ts';

export function bundledModels(): ModelRegistry {
  return createRegistry([
    {
      // The default: the trained class-conditional Fashion-MNIST model (issue 8), 32x32x1, 0.69M parameters,
      // chosen over fmnist-tiny by the evaluation (README "Model size"). Its weights may be replaced by
      // longer-trained exports under the same name and architecture, so no test depends on its pixels.
      card: parseModelCard(fmnistSmallCard),
      bytes: fmnistSmallInt8,
      limits: { maxBatch: 8, maxImageSteps: 1024 },
      // Its serving defaults (for omitted parameters; guidance only when a class is requested), chosen by the
      // evaluation in the README (DPM-Solver++(2M), 20 steps, int8, 1,000 samples): guidance 1.75 has the lowest
      // distance (3.74; 11.3 at guidance 1, 5.8 at 1.25, 3.79 at 1.5, 4.8 at 2) with 87.6% requested-class
      // accuracy, 97% of the classifier's on real images (the target is 90%).
      defaults: { sampler: 'dpmpp2m', steps: 20, guidance: 1.75 },
    },
    {
      // The smaller trained model (0.28M parameters, the previous default): its forward takes 0.75x the time, half the
      // download, a little higher distance (3.95 vs 3.74 at each model's default guidance).
      card: parseModelCard(fmnistTinyCard),
      bytes: fmnistTinyInt8,
      limits: { maxBatch: 8, maxImageSteps: 1024 },
      // Its serving defaults (for omitted parameters; guidance only when a class is requested), chosen by the
      // evaluation in the README (DPM-Solver++(2M), 20 steps, int8, 1,000 samples): guidance 1.5 has the lowest
      // distance (3.9; 9.2 at guidance 1, 5.0 at 1.25, 4.5 at 1.75, 6.0 at 2) with 86% requested-class accuracy,
      // 96% of the classifier's on real images (the target is 90%; 1.25 falls just short of it at 89.7%).
      defaults: { sampler: 'dpmpp2m', steps: 20, guidance: 1.5 },
    },
    {
      // A tiny random-weight test fixture (16x16x1, 12k parameters, `npm run export:fixture`): the worker
      // tests pin their reference outputs to it with ?model=fixture-tiny.
      card: parseModelCard(fixtureTinyCard),
      bytes: fixtureTinyInt8,
      limits: { maxBatch: 8, maxImageSteps: 1024 },
    },
  ]);
}
