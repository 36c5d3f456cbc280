import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabStore } from '../../src/services/store/index.js';
import { validateRequest } from '../../src/shared/lab-api.js';
import { seedStore } from '../helpers/seed-store.js';
import { tempDir } from '../helpers/lab.js';

test('history sorts by a method’s best, final or test accuracy and reports final per method', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    seedStore(dir, { experiments: 12, T: 4 });
    const store = LabStore.open(dir);
    try {
      for (const [sort, field] of [
        ['best:gmt', 'bestByMethod'],
        ['final:fgmt', 'finalByMethod'],
      ] as const) {
        const method = sort.split(':')[1];
        const desc = store.listExperiments({ sort, order: 'desc', limit: 100 }).items;
        const vals = desc.map((e) => e[field][method]);
        assert.equal(vals.length, 12);
        for (let i = 1; i < vals.length; i++) assert.ok(vals[i - 1] >= vals[i], `${sort} desc at ${i}`);
        const asc = store.listExperiments({ sort, order: 'asc', limit: 100 }).items;
        assert.deepEqual(
          asc.map((e) => e.id),
          [...desc].reverse().map((e) => e.id),
        );
      }
      const t = store.listExperiments({ sort: 'test:naive', order: 'desc', limit: 3 });
      assert.equal(t.items.length, 3);
      assert.equal(t.total, 12);
    } finally {
      store.close();
    }
    assert.equal(
      validateRequest<'experiments.list'>('experiments.list', { sort: 'best:gmt' }).args.sort,
      'best:gmt',
    );
    assert.throws(() => validateRequest('experiments.list', { sort: 'best:gmt; DROP TABLE runs' }), /sort/);
  } finally {
    await cleanup();
  }
});
