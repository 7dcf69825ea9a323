/**
 * Child process of the native peer with AVX-512 hidden (scripts/bench/native-isa.ts): times onnxruntime-node's
 * forwards as the bench does in process (forward-node.ts) and prints them as one line, `rows: <json>`.
 *   node --import tsx scripts/bench/native-child.ts <model dir> <int8|fp32> <batches, e.g. 1,4,16> <timing json>
 */
import { timeNative, type Precision } from './forward-node.ts';
import { loadModel } from './models.ts';
import type { TimingOptions } from './timing.ts';

const [dir, precision, batchList, timingJson] = process.argv.slice(2);
const model = loadModel(dir, dir);
const rows = await timeNative(model.card, precision === 'fp32' ? model.fp32 : model.int8, precision as Precision, batchList.split(',').map(Number), JSON.parse(timingJson) as TimingOptions);
process.stdout.write(`rows: ${JSON.stringify(rows)}\n`, () => process.exit(0));
