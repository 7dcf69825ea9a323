// TensorFlow.js, without its console banner ("Hi, looks like you are running TensorFlow.js in Node.js ...",
// printed by the cpu backend at its first tensor in Node): tf.enableProdMode() is tfjs' documented switch for
// its warnings (env flag PROD; tfjs-core reads it only to skip console warnings). Imported for its effect by
// every module that runs TF.js (the backend choice, the tfjs emitter of the U-Net, the evaluation classifier).
import * as tf from '@tensorflow/tfjs';

tf.enableProdMode();
