import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { adamRule } from '../../src/core/analyses/adam.js';
import { assumptionPCurves, cosineSimilarity } from '../../src/core/analyses/assumption-p.js';
import { SoftmaxEnsemble } from '../../src/core/analyses/ensembles.js';
import { evaluateParams } from '../../src/core/analyses/evaluate-params.js';
import { epochsSaved, finetuneCurve } from '../../src/core/analyses/finetune.js';
import { barrierHeight, linearPath } from '../../src/core/analyses/paths.js';
import {
  agreement,
  changedFraction,
  permutationDiagnostics,
} from '../../src/core/analyses/permutation-diagnostics.js';
import { lossPlane, planeBasis, planePoint } from '../../src/core/analyses/plane.js';
import {
  type FinetuneSpec,
  parseSpec,
  SpecError,
  estimateAnalysesCost,
} from '../../src/shared/domain/index.js';
import { initBackend } from '../../src/core/backend.js';
import type { Dataset } from '../../src/core/data/dataset.js';
import { loadDataset } from '../../src/core/data/load.js';
import { evaluate } from '../../src/core/evaluate.js';
import { runExperiment } from '../../src/core/experiment.js';
import { buildModel, type Model } from '../../src/core/models/index.js';
import { cloneParams, disposeParams, type Params } from '../../src/core/params.js';
import { applyPermutation, identityPermutation, randomPermutation } from '../../src/core/permutation.js';
import { rng } from '../../src/core/random.js';
import { lossAndGrads } from '../../src/core/train.js';

/** A tiny MLP on a few hundred bundled Fashion-MNIST images: every test here takes seconds. */
let data: Dataset;
let model: Model;

before(async () => {
  await initBackend('wasm');
  data = await loadDataset(
    { builtin: 'fashion-mnist-mini' },
    { valFraction: 0.05, splitSeed: 777, trainLimit: 400 },
  );
  model = buildModel({ arch: 'mlp', hidden: [16] }, data.inputShape, data.classes);
});

after(() => data?.dispose());

function maxAbsDiff(a: Params, b: Params): number {
  return tf.tidy(() =>
    Math.max(...Object.keys(a).map((k) => tf.max(tf.abs(tf.sub(a[k], b[k]))).dataSync()[0])),
  );
}

const validation = (p: Params) => evaluate(model, p, data.validation, { limit: 200 });

test('plane: the basis is orthonormal and its coordinates reproduce the three points', () => {
  const before = tf.memory().numTensors;
  const [w1, w2, w3] = [1, 2, 3].map((s) => model.init(s));
  const basis = planeBasis(w1, w2, w3);
  const dot = (a: Params, b: Params) =>
    tf.tidy(() => Object.keys(a).reduce((s, k) => s + tf.sum(tf.mul(a[k], b[k])).dataSync()[0], 0));
  assert.ok(Math.abs(dot(basis.u, basis.u) - 1) < 1e-4);
  assert.ok(Math.abs(dot(basis.v, basis.v) - 1) < 1e-4);
  assert.ok(Math.abs(dot(basis.u, basis.v)) < 1e-4);
  [w1, w2, w3].forEach((w, i) => {
    const [x, y] = basis.coords[i];
    const p = planePoint(basis, x, y);
    const d = maxAbsDiff(p, w);
    assert.ok(d < 1e-5, `point ${i + 1} is off by ${d}`);
    disposeParams(p);
  });
  basis.dispose();
  [w1, w2, w3].forEach(disposeParams);
  assert.equal(tf.memory().numTensors, before, 'planeBasis leaked tensors');
});

test('plane: the grid covers the three points and a point on the grid evaluates as itself', async () => {
  const before = tf.memory().numTensors;
  const [w1, w2, w3] = [4, 5, 6].map((s) => model.init(s));
  const plane = await lossPlane(
    validation,
    { transferred: w1, trained: w2, source: w3 },
    {
      method: 'fgmt',
      from: 'transferred',
      grid: 3,
      margin: 0,
    },
  );
  assert.equal(plane.valLoss.length, 3);
  assert.equal(plane.valLoss[0].length, 3);
  // margin 0 and 3 points per side: u spans exactly [min x, max x], so (0, 0) is on the grid
  assert.deepEqual(plane.points.transferred, [0, 0]);
  assert.equal(plane.u[0], 0);
  assert.equal(plane.v[0], 0);
  const own = await validation(w1);
  assert.ok(Math.abs(plane.valLoss[0][0] - own.loss) < 1e-4);
  assert.equal(plane.valAccuracy[0][0], own.accuracy);
  assert.ok(
    Math.abs(plane.u[2] - plane.points.trained[0]) < 1e-9 ||
      Math.abs(plane.u[2] - plane.points.source[0]) < 1e-9,
  );
  [w1, w2, w3].forEach(disposeParams);
  assert.equal(tf.memory().numTensors, before, 'lossPlane leaked tensors');
});

test('paths: α = 0 and 1 equal the end points; a path from a point to itself has barrier 0', async () => {
  const before = tf.memory().numTensors;
  const a = model.init(7);
  const b = model.init(8);
  const p = await linearPath(validation, a, b, 5);
  assert.deepEqual(p.alpha, [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(
    [p.valLoss[0], p.valAccuracy[0]],
    [(await validation(a)).loss, (await validation(a)).accuracy],
  );
  assert.deepEqual(
    [p.valLoss[4], p.valAccuracy[4]],
    [(await validation(b)).loss, (await validation(b)).accuracy],
  );
  assert.equal(p.barrier, Math.max(...p.valLoss) - (p.valLoss[0] + p.valLoss[4]) / 2);
  const self = await linearPath(validation, a, a, 7);
  assert.ok(Math.abs(self.barrier) < 1e-5, `self barrier ${self.barrier}`);
  assert.equal(barrierHeight([1, 3, 2]), 1.5);
  disposeParams(a);
  disposeParams(b);
  assert.equal(tf.memory().numTensors, before, 'linearPath leaked tensors');
});

test('Adam follows torch.optim.Adam step by step (L2 weight decay and AdamW)', () => {
  for (const decoupled of [false, true]) {
    const before = tf.memory().numTensors;
    const names = model.params.map((p) => p.name);
    const init = model.init(9);
    const rule = adamRule({ weightDecay: 0.01, decoupled });
    const x = tf.slice(data.train.x, [0, 0, 0, 0], [32, -1, -1, -1]) as tf.Tensor4D;
    const y = tf.slice(data.train.y, [0], [32]) as tf.Tensor1D;
    const lr = 0.01;
    const [b1, b2, eps, wd] = [0.9, 0.999, 1e-8, 0.01];
    // reference in float64 on the host, with the gradients the engine computes at the same θ
    let ref = names.map((n) => Float64Array.from(init[n].dataSync()));
    let m = ref.map((r) => new Float64Array(r.length));
    let v = ref.map((r) => new Float64Array(r.length));
    let theta: tf.Tensor[] = names.map((n) => init[n].clone());
    let state: tf.Tensor[] | null = null;
    for (let t = 1; t <= 3; t++) {
      const grads = tf.tidy(() => lossAndGrads(model, names, theta, x, y).grads.map((g) => g.dataSync()));
      ref = ref.map((p, i) => {
        const out = new Float64Array(p.length);
        for (let j = 0; j < p.length; j++) {
          let g = grads[i][j];
          let pj = p[j];
          if (decoupled) pj *= 1 - lr * wd;
          else g += wd * p[j];
          m[i][j] = b1 * m[i][j] + (1 - b1) * g;
          v[i][j] = b2 * v[i][j] + (1 - b2) * g * g;
          const denom = Math.sqrt(v[i][j]) / Math.sqrt(1 - b2 ** t) + eps;
          out[j] = pj - (lr / (1 - b1 ** t)) * (m[i][j] / denom);
        }
        return out;
      });
      const r = tf.tidy(() => {
        const s = rule.step(model, names, theta, state, x, y, lr);
        return { theta: s.theta, state: s.state! };
      });
      tf.dispose(theta);
      if (state) tf.dispose(state);
      theta = r.theta;
      state = r.state;
    }
    theta.forEach((p, i) => {
      const got = p.dataSync();
      let worst = 0;
      for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs(got[j] - ref[i][j]));
      assert.ok(worst < 1e-5, `${names[i]} (decoupled ${decoupled}) differs by ${worst}`);
    });
    tf.dispose([...theta, ...(state ?? []), x, y]);
    disposeParams(init);
    void m;
    void v;
    m = [];
    v = [];
    assert.equal(tf.memory().numTensors, before, 'adam leaked tensors');
  }
});

const finetuneSpec = (over: Partial<FinetuneSpec> = {}): FinetuneSpec => ({
  optimizer: 'adam',
  lr: 1e-3,
  epochs: 2,
  from: 'best',
  scratch: true,
  weightDecay: 0,
  momentum: 0,
  ...over,
});

test('finetune with lr 0 leaves accuracy unchanged; with lr > 0 it trains', async () => {
  const before = tf.memory().numTensors;
  const start = model.init(10);
  for (const optimizer of ['adam', 'adamw', 'sgd'] as const) {
    const c = await finetuneCurve(model, start, data, finetuneSpec({ optimizer, lr: 0 }), 64, { seed: 1 });
    assert.equal(c.valAccuracy.length, 3, 'epoch 0 plus one entry per epoch');
    assert.ok(
      c.valAccuracy.every((a) => a === c.valAccuracy[0]),
      `${optimizer}: ${c.valAccuracy}`,
    );
    assert.equal(maxAbsDiff(c.final, start), 0);
    assert.equal(c.testAccuracy, (await evaluate(model, start, data.test)).accuracy);
    disposeParams(c.final);
  }
  const c = await finetuneCurve(model, start, data, finetuneSpec({ lr: 1e-2 }), 64, { seed: 1 });
  assert.ok(c.valLoss[2] < c.valLoss[0], `loss ${c.valLoss}`);
  assert.equal(c.gradientEvaluations, 2 * Math.ceil(data.train.n / 64));
  disposeParams(c.final);
  disposeParams(start);
  assert.equal(tf.memory().numTensors, before, 'finetune leaked tensors');
});

test('epochs saved: the first epoch reaching the scratch accuracy', () => {
  assert.deepEqual(epochsSaved([0.5, 0.7, 0.8, 0.9], 0.8), { reachesScratchAt: 2, epochsSaved: 1 });
  assert.deepEqual(epochsSaved([0.9, 0.9], 0.8), { reachesScratchAt: 0, epochsSaved: 1 });
  assert.deepEqual(epochsSaved([0.5, 0.6], 0.8), { reachesScratchAt: null, epochsSaved: null });
  assert.deepEqual(epochsSaved([0.5, 0.6], NaN), { reachesScratchAt: null, epochsSaved: null });
});

test('ensemble of identical members equals the member; different members combine softmaxes', async () => {
  const before = tf.memory().numTensors;
  const a = model.init(11);
  const b = model.init(12);
  const same = new SoftmaxEnsemble(model, data.test, 300);
  for (let i = 0; i < 3; i++) same.add(a);
  assert.equal(same.accuracy(), (await evaluate(model, a, data.test)).accuracy);
  assert.deepEqual(same.memberAccuracy, [same.accuracy(), same.accuracy(), same.accuracy()]);
  const mixed = new SoftmaxEnsemble(model, data.test);
  mixed.add(a);
  mixed.add(b);
  const expected = tf.tidy(() => {
    const p = tf.add(tf.softmax(model.apply(a, data.test.x)), tf.softmax(model.apply(b, data.test.x)));
    return tf.mean(tf.cast(tf.equal(tf.argMax(p, 1), data.test.y), 'float32')).dataSync()[0];
  });
  assert.ok(Math.abs(mixed.accuracy() - expected) < 1e-6);
  same.dispose();
  mixed.dispose();
  disposeParams(a);
  disposeParams(b);
  assert.equal(tf.memory().numTensors, before, 'ensembles leaked tensors');
});

test('permutation diagnostics: moved units, agreement with Oracle and with the previous step', () => {
  const id = identityPermutation(model.permSpec);
  const r = rng(3);
  const p1 = randomPermutation(model.permSpec, r);
  assert.equal(changedFraction(id), 0);
  assert.equal(agreement(p1, p1), 1);
  const d = permutationDiagnostics([id, p1, p1], [1, 2, 3], p1);
  assert.deepEqual(d.changedFraction, [0, changedFraction(p1), changedFraction(p1)]);
  assert.deepEqual(d.agreementWithPrevious, [1, agreement(p1, id), 1]);
  assert.deepEqual(d.agreementWithOracle, [agreement(id, p1), 1, 1]);
  assert.deepEqual(d.objective, [1, 2, 3]);
  assert.equal(permutationDiagnostics([p1], [0]).agreementWithOracle, undefined);
});

test('Assumption (P): a permuted copy of the source trajectory has cosine 1 under that π', () => {
  const before = tf.memory().numTensors;
  const pi = randomPermutation(model.permSpec, rng(4));
  const src = [20, 21, 22].map((s) => model.init(s));
  const tgt = src.map((p) => applyPermutation(model.permSpec, pi, p));
  const curves = assumptionPCurves(model.permSpec, src, tgt, [
    { name: 'identity', perm: identityPermutation(model.permSpec) },
    { name: 'true', perm: pi },
  ]);
  assert.equal(curves[1].cosine.length, 2);
  for (const c of curves[1].cosine) assert.ok(Math.abs(c - 1) < 1e-5, `cosine ${c}`);
  for (const c of curves[0].cosine) assert.ok(c < 0.9, `identity cosine ${c}`);
  const a = model.init(30);
  assert.ok(Math.abs(cosineSimilarity(a, a) - 1) < 1e-6);
  [...src, ...tgt].forEach(disposeParams);
  disposeParams(a);
  assert.equal(tf.memory().numTensors, before, 'assumptionPCurves leaked tensors');
});

test('evaluateParams runs the preparation hook on what it evaluates and frees what the hook made', async () => {
  const before = tf.memory().numTensors;
  const a = model.init(31);
  let calls = 0;
  const r = await evaluateParams(model, a, data, data.validation, {
    limit: 100,
    prepare: (_m, p) => {
      calls++;
      return { params: cloneParams(p), owned: true };
    },
  });
  assert.equal(calls, 1);
  assert.equal(r.accuracy, (await evaluate(model, a, data.validation, { limit: 100 })).accuracy);
  disposeParams(a);
  assert.equal(tf.memory().numTensors, before);
});

test('spec: analyses defaults follow the paper and bad fields are named', () => {
  const base = {
    dataset: { builtin: 'fashion-mnist-mini' },
    model: { arch: 'mlp', hidden: [16] },
    source: { init: { seed: 1 } },
    targets: [{ init: { seed: 2 } }, { init: { seed: 3 } }],
  };
  const s = parseSpec({
    ...base,
    analyses: { finetune: {}, paths: {}, plane: {}, assumptionP: {}, ensembles: {} },
  });
  assert.deepEqual(s.analyses?.finetune, {
    optimizer: 'adam',
    lr: 1e-4,
    epochs: 10,
    from: 'best',
    scratch: true,
    weightDecay: 0,
    momentum: 0,
  });
  assert.equal(s.analyses?.paths?.points, 25);
  assert.deepEqual(s.analyses?.plane, { method: 'fgmt', grid: 21, margin: 0.2, from: 'transferred' });
  assert.deepEqual(s.analyses?.assumptionP, { widths: [] });
  assert.deepEqual(s.analyses?.ensembles, { from: 'best' });
  const bad = (analyses: unknown, field: string) =>
    assert.throws(
      () => parseSpec({ ...base, analyses }),
      (e: unknown) => e instanceof SpecError && e.field === field,
    );
  bad({ paths: { points: 1 } }, 'analyses.paths.points');
  bad({ plane: { method: 'gmt' }, x: 1 }, 'analyses.x');
  bad({ finetune: { optimizer: 'rmsprop' } }, 'analyses.finetune.optimizer');
  bad({ plane: { from: 'finetuned' } }, 'analyses.plane.from');
  assert.throws(
    () => parseSpec({ ...base, targets: [{ init: { seed: 2 } }], analyses: { ensembles: {} } }),
    (e: unknown) => e instanceof SpecError && e.field === 'analyses.ensembles',
  );
  assert.throws(
    () =>
      parseSpec({
        ...base,
        transfer: { methods: ['naive', 'gmt'] },
        analyses: { plane: { method: 'oracle' } },
      }),
    (e: unknown) => e instanceof SpecError && e.field === 'analyses.plane.method',
  );
});

test(
  'an experiment with every analysis: all result fields, finite values, no leaked tensors',
  { timeout: 120_000 },
  async () => {
    const spec = parseSpec({
      dataset: { builtin: 'fashion-mnist-mini' },
      datasetOptions: { trainLimit: 400, valFraction: 0.05 },
      model: { arch: 'mlp', hidden: [16] },
      source: { init: { seed: 101 }, train: { epochs: 2, batchSize: 64, lr: 0.05 } },
      targets: [{ init: { seed: 102 } }, { init: { seed: 103 } }],
      transfer: { T: 3, methods: ['naive', 'gmt', 'fgmt', 'oracle'] },
      backend: 'wasm',
      evalLimit: 200,
      analyses: {
        finetune: { epochs: 2, lr: 1e-3 },
        paths: { points: 4 },
        plane: { grid: 3, from: 'finetuned' },
        assumptionP: { widths: [8, 12] },
        ensembles: {},
      },
    });
    const before = tf.memory().numTensors;
    const phases = new Set<string>();
    const result = await runExperiment(spec, { onEvent: (e) => e.type === 'phase' && phases.add(e.phase) });
    assert.equal(
      tf.memory().numTensors,
      before,
      `the analyses left ${tf.memory().numTensors - before} tensors`,
    );
    for (const p of ['scratch:0', 'finetune:0:gmt', 'paths:1:fgmt', 'plane:0', 'assumptionP'])
      assert.ok(phases.has(p), `phase ${p} reported`);
    const finite = (xs: number[]) => xs.every((x) => Number.isFinite(x));
    for (const target of result.targets) {
      assert.ok(target.scratch && target.scratch.valAccuracy.length === 3);
      assert.ok(target.plane && target.plane.method === 'fgmt' && target.plane.from === 'finetuned');
      assert.equal(target.plane.valLoss.length, 3);
      for (const [name, m] of Object.entries(target.methods)) {
        assert.ok(m.finetune, `${name} finetune`);
        assert.equal(m.finetune.valAccuracy.length, 3);
        assert.ok(finite(m.finetune.valLoss));
        assert.ok(
          m.paths?.toSource &&
            m.paths.toTrained &&
            m.paths.finetuned?.toSource &&
            m.paths.finetuned.toTrained,
        );
        assert.equal(m.paths.toSource.alpha.length, 4);
        // the path starts at θ2,π^T: its α = 0 is the method's validation at T
        assert.ok(Math.abs(m.paths.toSource.valAccuracy[0] - m.valAccuracy[spec.transfer.T]) < 1e-9);
        assert.equal(m.paths.toSource.valLoss[0], m.paths.toTrained.valLoss[0]);
        if (name === 'gmt' || name === 'fgmt') {
          const d = m.permutation!;
          assert.equal(d.changedFraction.length, spec.transfer.T);
          assert.equal(d.objective.length, spec.transfer.T);
          assert.equal(d.agreementWithOracle?.length, spec.transfer.T);
        } else assert.equal(m.permutation, undefined);
      }
      // Oracle's π and Oracle's path to the permuted source end at the same πθ1^T
    }
    const ap = result.assumptionP!;
    assert.deepEqual(ap.steps, [1, 2]);
    assert.equal(ap.targets.length, 2);
    assert.deepEqual(
      ap.targets[0].curves.map((c) => c.permutation),
      ['identity', 'oracle', 'gmt', 'fgmt'],
    );
    assert.deepEqual(
      ap.widths?.map((w) => w.width),
      [8, 12],
    );
    for (const c of [...ap.targets[0].curves, ...ap.widths![0].curves])
      assert.ok(finite(c.cosine) && c.cosine.length === 2);
    const kinds = result.ensembles!.entries.map((e) => e.kind).sort();
    assert.ok(kinds.includes('trained') && kinds.includes('gmt + finetune'));
    for (const e of result.ensembles!.entries) {
      assert.equal(e.members, 2);
      assert.ok(e.testAccuracy >= 0 && e.testAccuracy <= 1);
      assert.ok(e.gradientEvaluations >= 0 && e.seconds >= 0);
    }
    const trained = result.ensembles!.entries.find((e) => e.kind === 'trained')!;
    assert.equal(trained.gradientEvaluations, 2 * 2 * Math.ceil(result.dataset.train / 64));
    // the report is plain JSON: it round-trips unchanged (what the store and bundles keep)
    assert.deepEqual(JSON.parse(JSON.stringify(result)).targets[0].plane, result.targets[0].plane);
  },
);

test('cost: analyses add their training steps and validation passes', async () => {
  const spec = parseSpec({
    dataset: { builtin: 'fashion-mnist-mini' },
    model: { arch: 'mlp', hidden: [16] },
    source: { init: { seed: 1 }, train: { epochs: 2, batchSize: 100 } },
    targets: [{ init: { seed: 2 } }, { init: { seed: 3 } }],
    transfer: { T: 3, methods: ['naive', 'fgmt'] },
    analyses: {
      finetune: { epochs: 3, batchSize: 50 },
      paths: { points: 5 },
      plane: { grid: 4 },
      evalLimit: 300,
    },
  });
  const c = estimateAnalysesCost(spec, 1000, 500);
  const line = (k: string) => c.lines.find((l) => l.analysis === k)!;
  assert.equal(line('finetune').gradients, 2 * 2 * 3 * 20);
  assert.equal(line('scratch').gradients, 2 * 3 * 10);
  assert.equal(
    line('paths').evaluations,
    2 * 2 * 4 * 5,
    'to Source* and to trained, from transferred and fine-tuned',
  );
  assert.equal(line('plane').evaluations, 2 * 16);
  assert.equal(c.evalExamples, 300);
  // the plane needs the trained targets, which Oracle does not train here
  assert.equal(c.gradients, 240 + 60 + 2 * 20);
  const none = estimateAnalysesCost({ ...spec, analyses: undefined }, 1000, 500);
  assert.deepEqual([none.lines.length, none.gradients, none.evaluations], [0, 0, 0]);
});

test('cost: targets trained for the analyses only when Oracle does not train them; width sweeps', async () => {
  const base = {
    dataset: { builtin: 'fashion-mnist-mini' },
    model: { arch: 'mlp', hidden: [16] },
    source: { init: { seed: 1 }, train: { epochs: 2, batchSize: 100 } },
    targets: [{ init: { seed: 2 } }, { init: { seed: 3 } }],
  };
  const withOracle = parseSpec({
    ...base,
    analyses: { assumptionP: { widths: [8, 16, 32] }, ensembles: {} },
  });
  assert.equal(estimateAnalysesCost(withOracle, 1000, 500).gradients, 2 * 3 * 20);
  const without = parseSpec({ ...base, transfer: { methods: ['fgmt'] }, analyses: { ensembles: {} } });
  assert.equal(estimateAnalysesCost(without, 1000, 500).gradients, 2 * 20);
});
