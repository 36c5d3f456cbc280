import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend } from '../../src/core/backend.js';
import { buildModel } from '../../src/core/models/index.js';
import { disposeParams } from '../../src/core/params.js';
import { encodeParams, encodePoints } from '../../src/core/params-io.js';
import { parseSpec } from '../../src/shared/domain/index.js';
import { exportBundle } from '../../src/services/bundles/export.js';
import { importBundle } from '../../src/services/bundles/import.js';
import { runRecorded } from '../../src/services/jobs/in-process.js';
import { paramSetRefs, resolveParamSets } from '../../src/services/param-set-refs.js';
import { LabStore } from '../../src/services/store/index.js';
import { LabRequestError } from '../../src/shared/lab-errors.js';
import { tempDir, tinySpec } from '../helpers/lab.js';

test('init.paramSet: a stored set named by id is resolved by the lab, and an unknown id is refused naming its field', async () => {
  await initBackend('wasm');
  const data = await tempDir();
  const store = LabStore.open(data.dir);
  try {
    const base = tinySpec({ methods: ['naive'], T: 2 }) as { model: { hidden: number[] }; source: object };
    const model = buildModel({ arch: 'mlp', hidden: base.model.hidden }, [28, 28, 1], 10);
    const add = async (buf: Buffer, points: number, name: string) => {
      const w = await store.putWeights(buf);
      return store.addParamSet({
        name,
        arch: { arch: 'mlp', hidden: base.model.hidden },
        inputShape: [28, 28, 1],
        classes: 10,
        origin: 'imported',
        sha256: w.sha256,
        bytes: w.bytes,
        points,
      }).id;
    };
    const p1 = model.init(5);
    const single = await add(await encodeParams(p1), 1, 'init 5');
    // a stored trajectory (θ^0, θ^T): its last point is the set
    const p2 = model.init(6);
    const p3 = model.init(7);
    const traj = await add(await encodePoints([p2, p3]), 2, 'trained');
    [p1, p2, p3].forEach(disposeParams);

    const spec = parseSpec({
      ...base,
      source: { ...base.source, init: { paramSet: single } },
      targets: [{ init: { paramSet: traj } }],
    });
    assert.deepEqual(
      paramSetRefs(spec).map((r) => r.field),
      ['source.init.paramSet', 'targets[0].init.paramSet'],
    );
    const { result, experimentId } = await runRecorded({ store, spec, name: 'by id' });
    assert.equal(result.targets[0]!.methods.naive!.valAccuracy.length, 3);
    // the spec stays portable: ids, no paths
    assert.equal(JSON.stringify(store.getExperiment(experimentId)!.spec).includes(data.dir), false);

    // a bundle of the experiment carries the sets it names, weights included, into another lab
    const zip = await exportBundle(store, [experimentId], { includeWeights: true });
    const other = await tempDir();
    const store2 = LabStore.open(other.dir);
    try {
      await importBundle(store2, zip);
      assert.ok(store2.getParamSet(single) && store2.getParamSet(traj));
      assert.deepEqual(Object.keys(resolveParamSets(store2, spec)).sort(), [single, traj].sort());
    } finally {
      store2.close();
      await other.cleanup();
    }

    const bad = parseSpec({ ...base, targets: [{ init: { paramSet: 'nope' } }] });
    assert.throws(
      () => resolveParamSets(store, bad),
      (e: unknown) =>
        e instanceof LabRequestError &&
        e.error.field === 'spec.targets[0].init.paramSet' &&
        /no parameter set with id nope/.test(e.message),
    );
  } finally {
    store.close();
    await data.cleanup();
  }
});
