import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapDiffCi, tTwoSided, welchTTest } from '../../src/renderer/src/lib/stats.js';

test("Welch's t-test matches scipy.stats.ttest_ind(equal_var=False)", () => {
  const r = welchTTest([0.801, 0.795, 0.812, 0.79, 0.805], [0.78, 0.79, 0.775, 0.788])!;
  assert.ok(Math.abs(r.t - 3.345883441294271) < 1e-9, `${r.t}`);
  assert.ok(Math.abs(r.p - 0.012371022554911477) < 1e-9, `${r.p}`);
  assert.equal(r.nA, 5);
  assert.equal(r.nB, 4);
  // two-sided tail of t against scipy.stats.t.sf(·)·2, fractional df too
  assert.ok(Math.abs(tTwoSided(2.5, 3.3) - 0.08005283630835447) < 1e-9);
  assert.ok(Math.abs(tTwoSided(0.3, 50) - 0.7654208802553033) < 1e-9);
  assert.equal(welchTTest([0.8], [0.7, 0.71]), null, 'one value is not a sample');
  assert.equal(welchTTest([0.8, 0.8], [0.8, 0.8])!.p, 1);
});

test('bootstrap CI of the difference covers the true difference and is reproducible', () => {
  const a = [0.81, 0.8, 0.82, 0.79, 0.8, 0.81];
  const b = [0.71, 0.7, 0.72, 0.69, 0.7, 0.71];
  const ci = bootstrapDiffCi(a, b)!;
  assert.ok(ci.lo < 0.1 && ci.hi > 0.1 && ci.lo > 0.08 && ci.hi < 0.12, JSON.stringify(ci));
  assert.deepEqual(bootstrapDiffCi(a, b), ci);
  assert.equal(bootstrapDiffCi([1], b), null);
});
