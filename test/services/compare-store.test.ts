import { test } from 'node:test';
import assert from 'node:assert/strict';
import { experimentHandlers } from '../../src/services/handlers/experiments.js';
import type { ServiceContext } from '../../src/services/handlers/context.js';
import { LabStore } from '../../src/services/store/index.js';
import { validateRequest, type ExperimentDetail } from '../../src/shared/lab-api.js';
import type { ExperimentAnalyses } from '../../src/shared/domain/index.js';
import { seedStore } from '../helpers/seed-store.js';
import { tempDir } from '../helpers/lab.js';

test('experiments.getMany: many details in the order asked, without log lines, unknown ids listed', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const { ids } = seedStore(dir, { experiments: 5, T: 4, targets: 2 });
    const store = LabStore.open(dir);
    try {
      store.appendLog(ids[1], 'info', 'a line Compare does not need');
      const analyses = { formatVersion: 1 } as unknown as ExperimentAnalyses;
      store.setAnalyses(ids[3], analyses);
      const got = store.getExperiments([ids[3], 'nope', ids[1], ids[3]]);
      assert.deepEqual(
        got.map((e) => e.id),
        [ids[3], ids[1]],
        'asked order, each once, unknown left out',
      );
      for (const e of got) {
        const one = store.getExperiment(e.id)!;
        // Compare needs neither the log nor the run page's parameter-set links
        assert.deepEqual(
          { ...e, log: [], paramSets: undefined },
          { ...one, log: [], paramSets: undefined },
          'the same detail as experiments.get',
        );
        assert.deepEqual(e.log, []);
        assert.equal(e.runs.length, 1 + 2 * 5, 'source, then per target its training and four methods');
      }
      assert.deepEqual(got[0].analyses, analyses);
      assert.equal(got[1].analyses, null);
      assert.ok(store.getExperiment(ids[1])!.log.length > 0);

      const handlers = experimentHandlers({ store } as unknown as ServiceContext);
      const reply = (await handlers['experiments.getMany']({ ids: [ids[0], 'gone'] })) as {
        items: ExperimentDetail[];
        missing: string[];
      };
      assert.deepEqual(
        reply.items.map((e) => e.id),
        [ids[0]],
      );
      assert.deepEqual(reply.missing, ['gone']);
    } finally {
      store.close();
    }
    assert.throws(() => validateRequest('experiments.getMany', { ids: [] }), /ids/);
    assert.throws(
      () => validateRequest('experiments.getMany', { ids: Array.from({ length: 1001 }, (_, i) => `e${i}`) }),
      /ids/,
    );
    assert.throws(() => validateRequest('experiments.getMany', { ids: ['../etc'] }), /ids/);
  } finally {
    await cleanup();
  }
});
