/**
 * Makes the README's screenshot on purpose (tests never write tracked files): runs two small
 * real experiments with the CLI into a fresh data folder (bundled Fashion-MNIST subset, MLP 128,
 * two targets each, all four methods), serves the lab on it, and captures the Compare screen
 * with the x-axis in gradient evaluations and the source's / trained target's reference lines.
 *
 *   npm run screenshots            → docs/screenshots/compare.png
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabStore } from '../src/services/store/index.js';
import { buildRenderer, launchChromium, ROOT, startHost } from '../test/helpers/e2e.js';

const spec = (lr: number) => ({
  name: `MLP 128, lr ${lr}`,
  dataset: { builtin: 'fashion-mnist-mini' },
  datasetOptions: { trainLimit: 3000 },
  evalLimit: 1000,
  model: { arch: 'mlp', hidden: [128] },
  source: { init: { seed: 101 }, train: { epochs: 3, batchSize: 128, lr, momentum: 0.9 } },
  targets: [{ init: { seed: 102 } }, { init: { seed: 103 } }],
  transfer: { T: 8, methods: ['naive', 'oracle', 'gmt', 'fgmt'] },
});

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lab-shots-'));
  try {
    for (const lr of [0.01, 0.02]) {
      const file = join(dir, `lr${lr}.json`);
      await writeFile(file, JSON.stringify(spec(lr)));
      process.stdout.write(`running ${file} …\n`);
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'run',
          file,
          '--out',
          join(dir, `out-${lr}`),
          '--db',
          join(dir, 'lab'),
        ],
        { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
      );
      if (r.status !== 0) throw new Error(`lab run failed (${r.status})`);
    }
    const store = LabStore.open(join(dir, 'lab'));
    const ids = store.listExperiments({ limit: 10 }).items.map((e) => e.id);
    store.close();
    buildRenderer();
    const host = await startHost(join(dir, 'lab'));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
      await page.goto(`${host.url}#/compare?ids=${ids.join(',')}&x=gradients`);
      await page.waitForFunction(() =>
        /gmt:\d+:band/.test(
          document.querySelector('[data-testid="compare-chart"] .chart-box')?.getAttribute('data-series') ??
            '',
        ),
      );
      await page.waitForTimeout(500);
      await mkdir(join(ROOT, 'docs', 'screenshots'), { recursive: true });
      const out = join(ROOT, 'docs', 'screenshots', 'compare.png');
      await page.locator('section', { has: page.locator('#curves-h') }).screenshot({ path: out });
      process.stdout.write(`wrote ${out}\n`);
    } finally {
      await browser.close();
      await host.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
