/**
 * Run directories and checkpoints.
 *
 * A run directory holds:
 *   config.json              AnyRunConfig (options.ts): { format: 'ddpm-edge-run', version: 1, unet, schedule,
 *                            prediction, training, data, classNames? } -- a DiffusionModelConfig plus options;
 *                            Cold Diffusion runs have `process` (the degradation) instead of `schedule`
 *   latest.json              { step, dir } -- the newest complete checkpoint (replaced atomically)
 *   checkpoints/step-<8 digits>/
 *     manifest.json          CheckpointManifest (below): step, seed, parameter list, file sizes and sha256
 *     weights.f32            the trained weights
 *     ema.f32                the EMA of the weights (what gets exported)
 *     adam-m.f32, adam-v.f32 Adam's first and second moments
 *   loss.csv, loss.png, samples/step-<8 digits>.png, train.log
 *
 * Each .f32 file is every parameter, little-endian float32, concatenated in the manifest's `params` order
 * (the order unet.ts declares them), each in its canonical layout (scripts/model/ops.ts):
 * conv `<name>/kernel` [kh, kw, cin, cout], dense `<name>/kernel` [in, out], `<name>/bias`,
 * norm `<name>/gamma` / `<name>/beta` [C], embedding `<name>/table` [rows, dim]; `offset` and `size` are in
 * floats. The RNG position is the step itself: every random draw of step s is a pure function of
 * (training.seed, s) (rng.ts), so nothing else needs saving for an exact resume.
 *
 * Atomicity: a checkpoint is written into checkpoints/.tmp-*, each file fsync'ed, then the folder is
 * renamed to its final name, and latest.json is replaced by write-to-temp + rename. A crash leaves either
 * the old or the new checkpoint, never a torn one; readers verify sizes and sha256.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { validateProcess } from '../../src/cold/process.ts';
import type { AnyRunConfig, ColdRunConfig, RunConfig } from './options.ts';

export const CHECKPOINT_FORMAT = 'ddpm-edge-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface ParamEntry {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

export type StateKey = 'weights' | 'ema' | 'adamM' | 'adamV';
const FILES: Record<StateKey, string> = { weights: 'weights.f32', ema: 'ema.f32', adamM: 'adam-m.f32', adamV: 'adam-v.f32' };

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  /** Optimisation steps completed. */
  step: number;
  /** training.seed of the run (the RNG position is `step`). */
  seed: number;
  /** Images seen so far (step x batch). */
  imagesSeen: number;
  /** Wall-clock seconds of training so far (across resumes). */
  trainSeconds: number;
  createdAt: string;
  params: ParamEntry[];
  totalParams: number;
  files: Record<StateKey, { file: string; bytes: number; sha256: string }>;
}

/** The optimiser state as flat vectors (manifest `params` order). */
export interface TrainState {
  step: number;
  imagesSeen: number;
  trainSeconds: number;
  weights: Float32Array;
  ema: Float32Array;
  adamM: Float32Array;
  adamV: Float32Array;
}

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export interface LoadedCheckpoint {
  config: AnyRunConfig;
  step: number;
  /** Checkpoint folder that was read. */
  dir: string;
  manifest: CheckpointManifest;
  params: ParamEntry[];
  /** Named views into the flat vectors (canonical names and layouts). */
  weights: Map<string, NamedTensor>;
  ema: Map<string, NamedTensor>;
  state: TrainState;
}

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

export function checkpointDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Float32Array -> little-endian bytes (copy-free on little-endian hosts). */
function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

async function writeFileSynced(file: string, data: Uint8Array | string): Promise<void> {
  const fh = await fsp.open(file, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Write `data` to `file` atomically (temp file in the same folder, fsync, rename). */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  await writeFileSynced(tmp, data);
  await fsp.rename(tmp, file);
}

export async function writeRunConfig(runDir: string, config: AnyRunConfig): Promise<void> {
  await fsp.mkdir(runDir, { recursive: true });
  await writeFileAtomic(path.join(runDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

export async function readRunConfig(runDir: string): Promise<AnyRunConfig> {
  const file = path.join(runDir, 'config.json');
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new CheckpointError(`${file}: cannot read the run config (${(e as NodeJS.ErrnoException).code ?? String(e)}); is ${runDir} a run directory?`);
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const c = cfg as Partial<RunConfig> | null;
  const process = (c as Partial<ColdRunConfig> | null)?.process;
  if (c === null || typeof c !== 'object' || c.format !== 'ddpm-edge-run' || typeof c.unet !== 'object' || (typeof c.schedule !== 'object' && typeof process !== 'object') || typeof c.training !== 'object') {
    throw new CheckpointError(`${file}: expected a ddpm-edge run config (format "ddpm-edge-run" with unet, schedule or process, training), found ${text.slice(0, 120)}`);
  }
  if (process !== undefined) {
    try {
      validateProcess(process);
    } catch (e) {
      throw new CheckpointError(`${file}: ${(e as Error).message}`);
    }
  }
  return c as AnyRunConfig;
}

/**
 * Write a checkpoint atomically, point latest.json at it, and keep only the newest `keep`, plus (keepEvery > 0)
 * every checkpoint whose step is a multiple of `keepEvery`.
 */
export async function saveCheckpoint(runDir: string, params: ParamEntry[], state: TrainState, seed: number, keep: number, keepEvery = 0): Promise<string> {
  const total = params.reduce((s, p) => s + p.size, 0);
  for (const k of Object.keys(FILES) as StateKey[]) {
    if (state[k].length !== total) throw new CheckpointError(`saveCheckpoint: ${k} has ${state[k].length} values, the parameters need ${total}`);
  }
  const ckDir = path.join(runDir, 'checkpoints');
  await fsp.mkdir(ckDir, { recursive: true });
  const name = checkpointDirName(state.step);
  const tmp = path.join(ckDir, `.tmp-${name}-${process.pid}-${Date.now()}`);
  await fsp.mkdir(tmp);
  const files = {} as CheckpointManifest['files'];
  for (const k of Object.keys(FILES) as StateKey[]) {
    const bytes = f32Bytes(state[k]);
    await writeFileSynced(path.join(tmp, FILES[k]), bytes);
    files[k] = { file: FILES[k], bytes: bytes.byteLength, sha256: sha256(bytes) };
  }
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step: state.step,
    seed,
    imagesSeen: state.imagesSeen,
    trainSeconds: state.trainSeconds,
    createdAt: new Date().toISOString(),
    params,
    totalParams: total,
    files,
  };
  await writeFileSynced(path.join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  const final = path.join(ckDir, name);
  await fsp.rm(final, { recursive: true, force: true }); // a stale folder of the same step (e.g. after a crash)
  await fsp.rename(tmp, final);
  await writeFileAtomic(path.join(runDir, 'latest.json'), `${JSON.stringify({ step: state.step, dir: `checkpoints/${name}` })}\n`);
  // prune: newest `keep` complete checkpoints stay (and those at multiples of keepEvery), temp leftovers of dead writers go
  const entries = (await fsp.readdir(ckDir)).sort();
  const done = entries.filter((e) => /^step-\d{8}$/.test(e));
  const kept = (e: string): boolean => keepEvery > 0 && Number(e.slice(5)) % keepEvery === 0;
  for (const old of done.slice(0, Math.max(0, done.length - keep))) if (!kept(old)) await fsp.rm(path.join(ckDir, old), { recursive: true, force: true });
  for (const e of entries.filter((e) => e.startsWith('.tmp-') && !e.includes(`-${process.pid}-`))) {
    await fsp.rm(path.join(ckDir, e), { recursive: true, force: true });
  }
  return final;
}

/** Steps of the complete checkpoints of a run, ascending. */
export async function listCheckpoints(runDir: string): Promise<number[]> {
  try {
    return (await fsp.readdir(path.join(runDir, 'checkpoints')))
      .filter((e) => /^step-\d{8}$/.test(e))
      .map((e) => Number(e.slice(5)))
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

async function resolveCheckpointDir(runDir: string, step?: number): Promise<string> {
  if (step !== undefined) return path.join(runDir, 'checkpoints', checkpointDirName(step));
  const latest = path.join(runDir, 'latest.json');
  try {
    const l = JSON.parse(await fsp.readFile(latest, 'utf8')) as { dir?: unknown };
    if (typeof l.dir === 'string') return path.join(runDir, l.dir);
  } catch {
    // fall through: use the newest folder present
  }
  const steps = await listCheckpoints(runDir);
  if (steps.length === 0) throw new CheckpointError(`${runDir}: no checkpoint found (expected latest.json or checkpoints/step-NNNNNNNN/)`);
  return path.join(runDir, 'checkpoints', checkpointDirName(steps[steps.length - 1]));
}

function asManifest(m: unknown, file: string): CheckpointManifest {
  const x = m as Partial<CheckpointManifest> | null;
  if (x === null || typeof x !== 'object' || x.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`${file}: expected format "${CHECKPOINT_FORMAT}", found ${JSON.stringify(x && x.format)}`);
  }
  if (x.version !== CHECKPOINT_VERSION) throw new CheckpointError(`${file}: unsupported checkpoint version ${String(x.version)} (this code reads ${CHECKPOINT_VERSION})`);
  if (!Number.isInteger(x.step) || !Array.isArray(x.params) || typeof x.files !== 'object' || !Number.isInteger(x.totalParams)) {
    throw new CheckpointError(`${file}: manifest lacks step, params, totalParams or files`);
  }
  let offset = 0;
  for (const p of x.params) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    if (p.offset !== offset || p.size !== size) throw new CheckpointError(`${file}: parameter ${p.name} has offset ${p.offset} / size ${p.size}, expected ${offset} / ${size}`);
    offset += size;
  }
  if (offset !== x.totalParams) throw new CheckpointError(`${file}: parameters add up to ${offset} values, totalParams says ${x.totalParams}`);
  return x as CheckpointManifest;
}

async function readState(dir: string, m: CheckpointManifest, key: StateKey): Promise<Float32Array> {
  const f = m.files[key];
  const file = path.join(dir, f?.file ?? FILES[key]);
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (e) {
    throw new CheckpointError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const expected = m.totalParams * 4;
  if (buf.byteLength !== expected || (f && buf.byteLength !== f.bytes)) {
    throw new CheckpointError(`${file}: expected ${expected} bytes (${m.totalParams} float32), found ${buf.byteLength}: truncated or corrupt`);
  }
  if (f && sha256(buf) !== f.sha256) throw new CheckpointError(`${file}: sha256 mismatch (corrupt checkpoint)`);
  const out = new Float32Array(m.totalParams);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

function named(params: ParamEntry[], flat: Float32Array): Map<string, NamedTensor> {
  const m = new Map<string, NamedTensor>();
  for (const p of params) m.set(p.name, { shape: p.shape, data: flat.subarray(p.offset, p.offset + p.size) });
  return m;
}

/**
 * Read a run's latest checkpoint (or the one of `opts.step`). `runDir` may also be a checkpoint folder
 * (checkpoints/step-NNNNNNNN) inside a run. Throws CheckpointError naming the file and the problem.
 */
export async function loadCheckpoint(runDir: string, opts: { step?: number } = {}): Promise<LoadedCheckpoint> {
  let run = runDir;
  let dir: string;
  const direct = await fsp.stat(path.join(runDir, 'manifest.json')).then(() => true, () => false);
  if (direct) {
    dir = runDir;
    run = path.dirname(path.dirname(path.resolve(runDir)));
  } else {
    const exists = await fsp.stat(runDir).then((s) => s.isDirectory(), () => false);
    if (!exists) throw new CheckpointError(`${runDir}: no such run directory`);
    dir = await resolveCheckpointDir(runDir, opts.step);
  }
  const config = await readRunConfig(run);
  const mfile = path.join(dir, 'manifest.json');
  let text: string;
  try {
    text = await fsp.readFile(mfile, 'utf8');
  } catch (e) {
    throw new CheckpointError(`${mfile}: cannot read the checkpoint manifest (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${mfile}: not valid JSON (${(e as Error).message})`);
  }
  const manifest = asManifest(parsed, mfile);
  const state: TrainState = {
    step: manifest.step,
    imagesSeen: manifest.imagesSeen,
    trainSeconds: manifest.trainSeconds,
    weights: await readState(dir, manifest, 'weights'),
    ema: await readState(dir, manifest, 'ema'),
    adamM: await readState(dir, manifest, 'adamM'),
    adamV: await readState(dir, manifest, 'adamV'),
  };
  return {
    config,
    step: manifest.step,
    dir,
    manifest,
    params: manifest.params,
    weights: named(manifest.params, state.weights),
    ema: named(manifest.params, state.ema),
    state,
  };
}
