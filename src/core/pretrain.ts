import { createHash } from 'node:crypto';
import type { Dataset } from './data/dataset.js';
import { loadDataset } from './data/load.js';
import { buildModel, type Model } from './models/index.js';
import { disposeParams, type Params } from './params.js';
import { deriveSeed } from './random.js';
import {
  phaseId,
  pretrainDatasetSpec,
  type ExperimentSpec,
  type InitSpec,
  type PretrainSummary,
  type TrainedSummary,
  type TrainSpec,
} from '../shared/domain/index.js';

/**
 * The paper's pre-trained scenario (Sec. 4.1, Fig. 5d–f): the source's and every target's
 * initialisation are first trained on a pre-training task — two different seeds give two different
 * pre-trained models — and the transfer is about the *fine-tuning* trajectory that starts there:
 * θ1^0 and θ2^0 are the pre-trained models, θ1^T is the source fine-tuned on the task.
 *
 * The classifier head: the pre-training task usually has other classes, so each model gets a new
 * head for the task, seeded from its own initialisation ("reinit", the default: it works for any
 * class count and is what the authors' code does for Cars/CUB). With equal class counts the
 * pre-trained head can be kept ("keep"); the choice is recorded in the result.
 */

export interface StartPoint {
  params: Params;
  hash: string;
}

export interface PretrainOutcome {
  source: StartPoint;
  targets: StartPoint[];
  summary: PretrainSummary;
  dispose(): void;
}

/** Trains (or takes from the cache) one initialisation on a dataset; experiment.ts provides it. */
export type TrainFn = (
  model: Model,
  data: Dataset,
  init: InitSpec,
  train: TrainSpec,
  phase: string,
) => Promise<{ points: Params[]; summary: TrainedSummary; key: string }>;

const pretrainPhase = phaseId.pretrain;

/**
 * A pre-trained model with the task's classifier: the body as pre-trained, the head kept or
 * re-initialised with PyTorch's default from a seed derived from the initialisation.
 */
export function withTaskHead(task: Model, pretrained: Params, head: 'reinit' | 'keep', seed: number): Params {
  const headNames = new Set(task.head ?? []);
  const out: Params = {};
  if (head === 'reinit') {
    const fresh = task.init(deriveSeed(seed, 'task-head'));
    for (const p of task.params) {
      if (headNames.has(p.name)) out[p.name] = fresh[p.name]!;
      else {
        out[p.name] = pretrained[p.name]!.clone();
        fresh[p.name]!.dispose();
      }
    }
    return out;
  }
  for (const p of task.params) {
    const t = pretrained[p.name]!;
    if (t.shape.join('x') !== p.shape.join('x'))
      throw new Error(
        `pretrain.head "keep": the pre-trained "${p.name}" is [${t.shape}] but the task needs [${p.shape}]`,
      );
    out[p.name] = t.clone();
  }
  return out;
}

function seedOf(init: InitSpec, fallback: string): number {
  if (init.seed !== undefined) return init.seed;
  return createHash('sha256').update(fallback).digest().readUInt32LE(0) & 0x7fffffff;
}

/**
 * Pre-trains the source's and every target's initialisation and returns the starts of the
 * fine-tuning, each with a hash that identifies it in cache keys.
 */
export async function pretrainedStarts(
  spec: ExperimentSpec,
  task: Dataset,
  taskModel: Model,
  train: TrainFn,
  log: (message: string) => void,
): Promise<PretrainOutcome> {
  const p = spec.pretrain!;
  const data = await loadDataset(pretrainDatasetSpec(spec), spec.datasetOptions);
  const starts: StartPoint[] = [];
  try {
    if (data.inputShape.join('x') !== task.inputShape.join('x'))
      throw new Error(
        `pretrain.dataset: its images are ${data.inputShape.join('×')} but the task's are ${task.inputShape.join('×')}`,
      );
    if (p.head === 'keep' && data.classes !== task.classes)
      throw new Error(
        `pretrain.head "keep" needs as many pre-training classes as task classes (${data.classes} vs ${task.classes}); use "reinit"`,
      );
    log(
      `pre-training on ${data.name}: ${data.train.n} train / ${data.validation.n} validation, ${data.classes} classes; head: ${p.head}`,
    );
    const model = buildModel(spec.model, data.inputShape, data.classes);
    const inits: [InitSpec, string][] = [
      [spec.source.init, pretrainPhase('source')],
      ...spec.targets.map((t, i): [InitSpec, string] => [t.init, pretrainPhase(i)]),
    ];
    const summaries: TrainedSummary[] = [];
    for (const [init, phase] of inits) {
      const r = await train(model, data, init, p.train, phase);
      disposeParams(r.points[0]);
      for (const q of r.points.slice(1, -1)) disposeParams(q);
      const end = r.points[r.points.length - 1]!;
      const params = withTaskHead(taskModel, end, p.head, seedOf(init, r.key));
      disposeParams(end);
      starts.push({ params, hash: `pretrained:${r.key}:head=${p.head}` });
      summaries.push(r.summary);
    }
    const [source, ...targets] = starts;
    return {
      source: source!,
      targets,
      summary: {
        dataset: data.name,
        classes: data.classes,
        classNames: [...data.classNames],
        head: p.head,
        train: p.train,
        source: summaries[0]!,
        targets: summaries.slice(1),
      },
      dispose() {
        for (const s of starts) disposeParams(s.params);
      },
    };
  } catch (e) {
    for (const s of starts) disposeParams(s.params);
    throw e;
  } finally {
    data.dispose();
  }
}
