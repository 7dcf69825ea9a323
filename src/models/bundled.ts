// The models shipped inside the worker bundle: one import pair per model folder (models/<name>/), its card
// and its int8 ONNX file (wrangler rule Data: an ArrayBuffer). To serve another model, add its pair here;
// the first entry is the default.
import fixtureTinyCard from '../../models/fixture-tiny/model.json';
import fixtureTinyInt8 from '../../models/fixture-tiny/unet.int8.onnx';
import fmnistTinyCard from '../../models/fmnist-tiny/model.json';
import fmnistTinyInt8 from '../../models/fmnist-tiny/unet.int8.onnx';
import { createRegistry, parseModelCard, type ModelRegistry } from './registry.ts';

export function bundledModels(): ModelRegistry {
  return createRegistry([
    {
      card: parseModelCard(fixtureTinyCard),
      bytes: fixtureTinyInt8,
      // 16x16x1, 12k parameters: cheap; limits sized for the 2.7M-parameter 28x28 models that replace it.
      limits: { maxBatch: 8, maxImageSteps: 1024 },
    },
    {
      // Class-conditional Fashion-MNIST, 32x32x1, 0.28M parameters, 2,010 training steps so far (issue 8):
      // served as ?model=fmnist-tiny until its training converges and it becomes the default.
      card: parseModelCard(fmnistTinyCard),
      bytes: fmnistTinyInt8,
      limits: { maxBatch: 8, maxImageSteps: 1024 },
    },
  ]);
}
