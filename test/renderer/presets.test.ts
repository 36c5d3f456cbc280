import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildSpec, PRESETS, presetState } from '../../src/renderer/src/lib/wizard.js';

const quick = JSON.parse(readFileSync(new URL('../../examples/quick.json', import.meta.url), 'utf8')) as {
  name: string;
  model: { hidden: number[] };
  source: { train: { epochs: number } };
  transfer: { T: number };
};

test('a UI preset that shares its name with examples/quick.json runs the same settings', () => {
  const exampleName = quick.name.split(':')[0].trim().toLowerCase(); // "quick demo"
  const ctx = { paramFile: () => null, paramName: () => null };
  for (const p of PRESETS) {
    const spec = buildSpec(presetState(p.id), ctx);
    const named =
      p.title.toLowerCase().startsWith(exampleName) || (spec.name ?? '').toLowerCase() === exampleName;
    if (!named) continue;
    assert.deepEqual(
      [spec.model, spec.source.train.epochs, spec.transfer.T],
      [{ arch: 'mlp', hidden: quick.model.hidden }, quick.source.train.epochs, quick.transfer.T],
      `preset "${p.title}" is named like examples/quick.json but runs other settings`,
    );
  }
  // and the smaller preset says how it differs from the README's example
  const smoke = PRESETS.find((p) => p.id === 'quick')!;
  assert.match(smoke.description, /examples\/quick\.json/);
});
