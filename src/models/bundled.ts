// The models shipped inside the worker bundle: one import pair per model folder (models/<name>/), its card
// and its int8 ONNX file (wrangler rule Data: an ArrayBuffer). To serve another model, add its pair here;
// the first entry is the default.
import fmnistTinyCard from '../../models/fmnist-tiny/model.json';
import fmnistTinyInt8 from '../../models/fmnist-tiny/unet.int8.onnx';
import fixtureTinyCard from '../../models/fixture-tiny/model.json';
import fixtureTinyInt8 from '../../models/fixture-tiny/unet.int8.onnx';
import { createRegistry, parseModelCard, type ModelRegistry } from './registry.ts';

export function bundledModels(): ModelRegistry {
  return createRegistry([
    {
      // The default: the trained class-conditional Fashion-MNIST model (issue 8), 32x32x1, 0.28M parameters.
      // Its weights are replaced by longer-trained exports under the same name and architecture, so no test
      // depends on its pixels.
      card: parseModelCard(fmnistTinyCard),
      bytes: fmnistTinyInt8,
      limits: { maxBatch: 8, maxImageSteps: 1024 },
      // Its serving defaults (for omitted parameters; guidance only when a class is requested), chosen by the
      // evaluation in the README (DPM-Solver++(2M), 20 steps, int8, 1,000 samples): guidance 2 has the lowest
      // distance (6.0; 9.2 at guidance 1, 13.6 at 3) and 91% requested-class accuracy (75% at guidance 1).
      defaults: { sampler: 'dpmpp2m', steps: 20, guidance: 2 },
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
