/**
 * The paper's analyses in real Chromium against `serve`: two tiny experiments with every analysis
 * (subsequent training with the scratch baseline, both linear paths, the loss plane, Assumption (P),
 * permutation diagnostics, ensembles), then the run view's analyses panel and Compare's analyses
 * section — each chart present, exports that carry the stored numbers. Screenshots go to
 * test-results/screenshots/.
 *
 *   node --import tsx --test test/e2e/analyses.e2e.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { ExperimentDetail } from '../../src/shared/lab-api.js';
import type { MethodResult } from '../../src/shared/domain/index.js';
import { connectLab } from '../../src/shared/lab-ws-client.js';
import { parseCsv } from '../../src/renderer/src/lib/csv.js';
import {
  buildRenderer,
  CHROMIUM,
  haveChromium,
  INSTRUMENT,
  launchChromium,
  openPage,
  shot,
  SHOTS,
  startHost,
  type PageLog,
} from '../helpers/e2e.js';
import { tinySpec } from '../helpers/lab.js';

const METHODS = ['naive', 'oracle', 'gmt', 'fgmt'];
const POINTS = 5;

function analysesSpec(seed: number): Record<string, unknown> {
  const spec = tinySpec({ seed, methods: METHODS, T: 3, targets: 2, hidden: [24] });
  return {
    ...spec,
    analyses: {
      finetune: { optimizer: 'adam', lr: 0.001, epochs: 1, from: 'best', scratch: true },
      paths: { points: POINTS },
      plane: { method: 'fgmt', grid: 5, margin: 0.2, from: 'transferred' },
      assumptionP: {},
      ensembles: { from: 'best' },
      evalLimit: 200,
    },
  };
}

test(
  'analyses: the run view and Compare show every analysis, with exports of the stored numbers',
  { skip: !haveChromium && `Chromium not found at ${CHROMIUM} (apt install chromium)` },
  async () => {
    buildRenderer();
    await mkdir(SHOTS, { recursive: true });
    const dataDir = await mkdtemp(join(tmpdir(), 'tlab-e2e-analyses-'));
    const downloads = await mkdtemp(join(tmpdir(), 'tlab-e2e-analyses-dl-'));
    const host = await startHost(dataDir);
    const client = connectLab(host.url, { socket: (u) => new WebSocket(u) as never, reconnect: false });
    const browser = await launchChromium();
    try {
      const ids = await Promise.all(
        [1, 2].map(
          async (seed) =>
            (
              await client.request('experiments.create', {
                spec: analysesSpec(seed),
                name: `analyses ${seed}`,
              } as never)
            ).id,
        ),
      );
      const details: ExperimentDetail[] = [];
      for (const id of ids) {
        const end = Date.now() + 240_000;
        for (;;) {
          const d = await client.request('experiments.get', { id });
          if (d.status === 'done' && d.analyses) {
            details.push(d);
            break;
          }
          assert.ok(
            !['failed', 'cancelled', 'interrupted'].includes(d.status),
            `experiment ${id}: ${d.status}`,
          );
          assert.ok(Date.now() < end, `experiment ${id} still ${d.status} after 240 s`);
          await new Promise((r) => setTimeout(r, 500));
        }
      }

      const ctx = await browser.newContext({
        acceptDownloads: true,
        viewport: { width: 1400, height: 1000 },
      });
      await ctx.addInitScript(INSTRUMENT);
      const log: PageLog = { errors: [] };
      const page = await openPage(ctx, log);

      // the run view: one table row per method, every analysis as a chart with its exports
      await page.goto(`${host.url}#/run/${ids[0]}`);
      const panel = page.getByTestId('analyses');
      await panel.waitFor({ timeout: 30_000 });
      await panel
        .getByTestId('analyses-table')
        .locator('tbody tr')
        .nth(METHODS.length - 1)
        .waitFor();
      assert.equal(await panel.getByTestId('analyses-table').locator('tbody tr').count(), METHODS.length);
      for (const id of ['finetune', 'assumption-p', 'to-source', 'to-trained'])
        await panel.getByTestId(`analysis-${id}`).waitFor();
      await panel.getByTestId('analysis-plane').waitFor();
      await panel.getByTestId('analysis-ensembles').waitFor();
      await panel.getByTestId('ensembles-table').waitFor();
      // permutation diagnostics: one small chart per metric for GMT and FGMT
      assert.ok((await panel.locator('.analysis-chart').count()) >= 4 + 3);

      // the CSV of the path to Source* is the stored path of target 1, method by method
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        panel.getByTestId('analysis-to-source').getByRole('button', { name: 'CSV' }).click(),
      ]);
      const file = join(downloads, download.suggestedFilename());
      await download.saveAs(file);
      const rows = parseCsv(await readFile(file, 'utf8'));
      const stored = details[0].runs
        .filter((r) => r.kind === 'transfer' && r.targetIndex === 0 && r.method === 'gmt')
        .map((r) => (r.summary as MethodResult).paths!.toSource)[0];
      assert.equal(stored.alpha.length, POINTS);
      // long format: series, α, validation loss
      const gmt = rows.slice(1).filter((r) => r[0] === 'GMT');
      assert.equal(gmt.length, POINTS, `GMT rows in ${rows.map((r) => r[0]).join(',')}`);
      gmt.forEach((r, i) => {
        assert.ok(Math.abs(Number(r[1]) - stored.alpha[i]) < 1e-9);
        assert.ok(Math.abs(Number(r[2]) - stored.valLoss[i]) < 1e-6, `loss at α=${stored.alpha[i]}`);
      });
      await shot(page, 'analyses-run');

      // Compare: one row per experiment and method, the curves side by side
      await page.goto(`${host.url}#/compare?ids=${ids.join(',')}`);
      const cmp = page.getByTestId('compare-analyses');
      await cmp.waitFor({ timeout: 30_000 });
      await cmp
        .locator('tbody tr')
        .nth(2 * METHODS.length - 1)
        .waitFor();
      assert.equal(await cmp.locator('tbody tr').count(), 2 * METHODS.length);
      for (const id of ['finetune', 'to-source', 'to-trained'])
        await cmp.getByTestId(`analysis-${id}`).waitFor();
      await shot(page, 'analyses-compare');
      assert.deepEqual(log.errors, []);
      await ctx.close();
    } finally {
      client.close();
      await browser.close();
      await host.stop();
      await rm(dataDir, { recursive: true, force: true });
      await rm(downloads, { recursive: true, force: true });
    }
  },
);
