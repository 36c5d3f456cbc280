import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  estimateCost,
  listMethods,
  parsePhase,
  parseSpec,
  phaseId,
  registerMethod,
  type MethodName,
} from '../../src/shared/domain/index.js';
import { buildSpec, emptyState, methodOptions, presetState } from '../../src/renderer/src/lib/wizard.js';
import { compareMethods, methodLabel, phaseLabel, runGroup } from '../../src/renderer/src/lib/status.js';
import { plannedRuns } from '../../src/services/store/runs.js';
import { run } from './fixtures.js';

const build = { paramFile: () => null, paramName: () => null };

test('a method added to the registry reaches the wizard, the parser, the cost, the run plan and the labels', () => {
  const before = methodOptions();
  const unregister = registerMethod({
    name: 'toy',
    label: 'Toy transfer',
    description: 'A method that exists only in this test.',
    order: 1.5, // between FGMT (1) and Oracle (2)
    colour: '#123456',
    needsTrainedTarget: false,
    gradientEvaluations: (T, gradBatches) => 3 * T * gradBatches,
  });
  try {
    // wizard: offered, in display order, and on by default
    assert.deepEqual(methodOptions(), ['gmt', 'fgmt', 'toy', 'oracle', 'naive']);
    assert.ok(emptyState().transfer.methods.includes('toy' as MethodName));
    // the one parser accepts it, also by default
    const s = presetState('quick');
    s.transfer.methods = ['toy' as MethodName, 'gmt'];
    const spec = parseSpec(buildSpec(s, build));
    assert.deepEqual(spec.transfer.methods, ['gmt', 'toy']);
    assert.ok(
      parseSpec({
        dataset: { builtin: 'fashion-mnist-mini' },
        model: { arch: 'mlp', hidden: [8] },
        source: { init: { seed: 1 } },
        targets: [{ init: { seed: 2 } }],
      }).transfer.methods.includes('toy' as MethodName),
    );
    // cost: its own gradient count, and it can be the cheapest
    const c = estimateCost({
      trainExamples: 1000,
      epochs: 10,
      batchSize: 100,
      T: 4,
      gradBatches: 2,
      methods: ['gmt', 'toy'],
      targets: 1,
    });
    assert.equal(c.gradientsPerTarget.toy, 24);
    assert.equal(c.cheapestMethod, 'toy');
    assert.equal(c.oracleStepsPerTarget, 0);
    // the store's run plan and phase ids
    const phases = plannedRuns(spec).map((r) => r.phase);
    assert.deepEqual(phases, ['source', 'transfer:0:gmt', 'transfer:0:toy']);
    assert.deepEqual(parsePhase(phaseId.transfer(0, 'toy' as MethodName)), {
      kind: 'transfer',
      target: 0,
      method: 'toy',
    });
    // status labels and ordering
    assert.equal(methodLabel('toy'), 'Toy transfer');
    const r = run({ id: 'r1', phase: 'transfer:0:toy', method: null });
    assert.equal(runGroup(r), 'toy');
    assert.match(phaseLabel(r), /^Toy transfer · target 1/);
    assert.deepEqual(['source', 'naive', 'toy', 'gmt'].sort(compareMethods), [
      'gmt',
      'toy',
      'naive',
      'source',
    ]);
  } finally {
    unregister();
  }
  assert.deepEqual(methodOptions(), before);
  assert.equal(listMethods().length, 4);
  assert.equal(methodLabel('toy'), 'toy');
});

test('a registered method that needs the trained target plans a target phase and counts as training', () => {
  const unregister = registerMethod({
    name: 'toy-oracle',
    label: 'Toy oracle',
    description: 'Needs the target trained.',
    order: 9,
    colour: '#654321',
    needsTrainedTarget: true,
    gradientEvaluations: () => 0,
  });
  try {
    const s = presetState('quick');
    s.transfer.methods = ['toy-oracle' as MethodName];
    const spec = parseSpec(buildSpec(s, build));
    assert.deepEqual(
      plannedRuns(spec).map((r) => r.phase),
      ['source', 'target:0', 'transfer:0:toy-oracle'],
    );
    const c = estimateCost({
      trainExamples: 1000,
      epochs: 2,
      batchSize: 100,
      T: 4,
      gradBatches: 1,
      methods: ['toy-oracle'],
      targets: 1,
    });
    assert.equal(c.oracleStepsPerTarget, 20);
    assert.equal(c.cheapestMethod, null);
  } finally {
    unregister();
  }
  assert.throws(
    () =>
      parseSpec({
        ...parseSpec(buildSpec(presetState('quick'), build)),
        transfer: { methods: ['toy-oracle'] },
      }),
    /transfer\.methods\[0\]/,
  );
});
