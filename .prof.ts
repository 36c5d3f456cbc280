import { parseSpec } from './src/core/spec.js';
import { LabStore } from './src/services/store/index.js';
import { rmSync } from 'node:fs';
//rmSync('/tmp/prof-store', { recursive: true, force: true });
const store = LabStore.open('/tmp/prof-store');
const spec = parseSpec({ dataset: { builtin: 'fashion-mnist-mini' }, model: { arch: 'mlp', hidden: [16] }, source: { init: { seed: 1 } }, targets: [1,2,3,4].map((s) => ({ init: { seed: s } })), transfer: { T: 3 } });
if (0) store.transaction(() => {
  for (let i = 0; i < 400; i++) {
    const e = store.createExperiment({ spec, name: `exp ${i}` });
    for (const r of store.planRuns(e.id, spec)) store.updateRun(r.id, { status: 'done', seconds: 1, backend: 'wasm', summary: r.kind === 'transfer' ? { method: 'gmt', valAccuracy: [0.1, 0.2], valLoss: [1, 1], testAccuracy: 0.3, bestStep: 1, testAccuracyAtBest: 0.3, seconds: 1, phases: {}, gradientEvaluations: 0 } : null });
  }
});
const db = (store as any).db;
const time = (label: string, f: () => unknown) => { f(); const t = performance.now(); for (let i = 0; i < 10; i++) f(); console.log(label, ((performance.now() - t) / 10).toFixed(2), 'ms'); };
time('list', () => store.listExperiments({}));
time('get', () => store.getExperiment(store.listExperiments({ limit: 1 }).items[0].id));
const id = store.listExperiments({ limit: 1 }).items[0].id;
time('summary', () => store.getExperimentSummary(id));
time('runs', () => store.listRuns(id));
time('log', () => store.getLog(id, 1000));
time('agg only', () => db.prepare(`SELECT experiment_id, COUNT(*) FROM runs GROUP BY experiment_id`).all());
time('agg sum', () => db.prepare(`SELECT experiment_id, SUM(status='running'), SUM(seconds) FROM runs GROUP BY experiment_id`).all());
console.log(db.prepare(`EXPLAIN QUERY PLAN SELECT experiment_id, method, AVG(best_val) AS best FROM runs WHERE kind = 'transfer' AND best_val IS NOT NULL AND experiment_id IN (SELECT value FROM json_each(?)) GROUP BY experiment_id, method`).all('["a"]'));
console.log(db.prepare(`EXPLAIN QUERY PLAN SELECT * FROM runs WHERE experiment_id = ? ORDER BY ordinal`).all('a'));
store.close();
const store2 = LabStore.open('/tmp/prof-store');
const db2 = (store2 as any).db;
time('agg min-rank', () => db2.prepare(`SELECT experiment_id, MIN(CASE status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 WHEN 'failed' THEN 2 WHEN 'interrupted' THEN 3 WHEN 'cancelled' THEN 4 ELSE 5 END) AS rank, SUM(seconds) FROM runs GROUP BY experiment_id`).all());
time('agg 5 sums', () => db2.prepare(`SELECT experiment_id, CASE WHEN SUM(status = 'running') > 0 THEN 'running' WHEN SUM(status = 'queued') > 0 THEN 'queued' WHEN SUM(status = 'failed') > 0 THEN 'failed' WHEN SUM(status = 'interrupted') > 0 THEN 'interrupted' WHEN SUM(status = 'cancelled') > 0 THEN 'cancelled' ELSE 'done' END, SUM(seconds) FROM runs GROUP BY experiment_id`).all());
const { ExperimentRepo } = await import('./src/services/store/experiments.js');
const t = performance.now(); for (let i = 0; i < 10; i++) store2.listExperiments({}); console.log('list again', (performance.now() - t) / 10);
store2.close();
