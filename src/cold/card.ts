import type { ModelCard } from '../model-card.ts';
import type { GaussianMixture } from './mixture.ts';
import type { ColdKind, ColdProcess } from './process.ts';

/** How a cold model generates (blur with `discrete`): its fully degraded start, fitted at export. */
export interface ColdGeneration {
  /** Mixture of the per-channel means of the training images (= D(x0, T)); see mixture.ts. */
  mixture: GaussianMixture;
  /** Std of the Gaussian noise added to the start (the paper's `--noise`, in [-1, 1] units). */
  noise: number;
  /** What the mixture was fitted on, e.g. `per-channel means of 60000 training images, 10 components`. */
  fittedOn: string;
}

/**
 * model.json of a Cold Diffusion model: the DDPM card's network fields (architecture, I/O, files, ...) with
 * the degradation instead of a noise schedule. The network predicts x0 (`prediction: 'sample'`) at timestep
 * level - 1, for levels 1..process.T.
 */
export interface ColdModelCard extends Omit<ModelCard, 'kind' | 'schedule' | 'prediction'> {
  kind: ColdKind;
  process: ColdProcess;
  prediction: 'sample';
  /** null: the model restores only (its fully degraded state is not modelled, e.g. masks). */
  generation: ColdGeneration | null;
}
