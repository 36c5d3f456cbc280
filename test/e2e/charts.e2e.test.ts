/**
 * The researcher's features in Chromium, on data folders filled directly through the store (no
 * training, so it is quick): the run page's chart tools (axis titles that follow the metric,
 * ?metric= in the URL, log y, smoothing, zoom and reset, compute on x, reference lines), its
 * downloads and CLI command; Compare's de-duplication, dashed legend, significance, scatter and
 * parallel-coordinates brushing and report; History's metric sort, columns, saved filters,
 * shift-click and keys; a running experiment's delete warning; and History/Compare at 1,000
 * experiments and 100,000 metric points held to first paint ≤ 1 s and no main-thread task over
 * 100 ms (PerformanceObserver long tasks). Screenshots go to test-results/screenshots/.
 *
 *   node --import tsx --test test/e2e/charts.e2e.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { LabStore } from '../../src/services/store/index.js';
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
  type Host,
  type PageLog,
} from '../helpers/e2e.js';
import { seedStore } from '../helpers/seed-store.js';

async function download(page: Page, click: () => Promise<void>): Promise<{ name: string; text: string }> {
  const [d] = await Promise.all([page.waitForEvent('download'), click()]);
  return { name: d.suggestedFilename(), text: await readFile((await d.path())!, 'utf8') };
}

const attr = (page: Page, sel: string, name: string): Promise<string | null> =>
  page.locator(sel).first().getAttribute(name);

async function waitAttr(page: Page, sel: string, name: string, want: string | RegExp): Promise<void> {
  await page.waitForFunction(
    ([s, n, w, isRe]) => {
      const v = document.querySelector(s as string)?.getAttribute(n as string) ?? '';
      return isRe ? new RegExp(w as string).test(v) : v === w;
    },
    [sel, name, want instanceof RegExp ? want.source : want, want instanceof RegExp] as const,
    { timeout: 15_000 },
  );
}

test(
  'charts, run page, compare, history and report in Chromium',
  {
    timeout: 10 * 60_000,
    skip: haveChromium ? false : `no Chromium at ${CHROMIUM} (install Debian's chromium or set LAB_CHROMIUM)`,
  },
  async (t) => {
    await mkdir(SHOTS, { recursive: true });
    buildRenderer();
    const dir = await mkdtemp(join(tmpdir(), 'lab-charts-'));
    const perfDir = await mkdtemp(join(tmpdir(), 'lab-perf-'));
    const log: PageLog = { errors: [] };
    let host: Host | null = null;
    let perfHost: Host | null = null;
    let browser: Browser | null = null;
    try {
      // Two experiments that repeat one computation (same source, same seed-102 target), and a
      // sweep over width and learning rate with three targets each.
      const twins = seedStore(dir, {
        experiments: 2,
        T: 10,
        trainPoints: 300,
        namePrefix: 'twin',
        variants: 1,
      });
      const sweep = seedStore(dir, {
        experiments: 8,
        T: 10,
        targets: 3,
        trainPoints: 300,
        namePrefix: 'sweep',
        seed: 9,
      });
      {
        // the second twin reused its source; one of its methods was cancelled half-way
        const store = LabStore.open(dir);
        const id = twins.ids[1];
        const src = store.getRun(`${id}-source`)!;
        store.updateRun(src.id, { summary: { ...(src.summary as object), reused: true } as never });
        store.updateRun(`${id}-0-fgmt`, { status: 'cancelled' });
        store.close();
      }
      host = await startHost(dir);
      browser = await launchChromium();
      const ctx = await browser.newContext({
        viewport: { width: 1440, height: 1000 },
        acceptDownloads: true,
        colorScheme: 'light',
      });
      await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(host.url).origin });
      await ctx.addInitScript(INSTRUMENT);
      const page = await openPage(ctx, log);
      const base = host.url;
      const chart = '[data-testid="transfer-chart"] .chart-box';

      await t.test('run page: the y-axis title follows the metric, also from ?metric=valLoss', async () => {
        await page.goto(`${base}#/run/${twins.ids[0]}`);
        await waitAttr(page, chart, 'data-series', /gmt:11/);
        assert.equal(await attr(page, chart, 'data-y-title'), 'validation accuracy');
        await page.getByRole('button', { name: 'Loss', exact: true }).click();
        await waitAttr(page, chart, 'data-y-title', 'validation loss');
        assert.match(page.url(), /metric=valLoss/);
        await waitAttr(page, '[data-testid="training-chart"] .chart-box', 'data-y-title', /^loss/);
        await page.goto(`${base}#/compare`); // away and back by URL: the metric comes from it
        await page.goto(`${base}#/run/${twins.ids[0]}?metric=valLoss`);
        await waitAttr(page, chart, 'data-y-title', 'validation loss');
        assert.equal(
          await page.getByRole('button', { name: 'Loss', exact: true }).getAttribute('aria-pressed'),
          'true',
        );
        // training loss per SGD step is drawn next to validation per epoch
        await waitAttr(page, '[data-testid="training-chart"] .chart-box', 'data-series', /\|train:300/);
      });

      await t.test('run page: compute on x, reference lines, log y, smoothing, zoom and reset', async () => {
        await page.goto(`${base}#/run/${twins.ids[0]}?x=gradients`);
        await waitAttr(page, chart, 'data-x-title', 'gradient evaluations (per target)');
        const legend = page.locator('[data-testid="transfer-chart"] [data-legend]');
        await legend.first().waitFor();
        const labels = await legend.allInnerTexts();
        assert.ok(
          labels.some((l) => /^Source \d+\.\d%/.test(l.trim())),
          labels.join('|'),
        );
        assert.ok(
          labels.some((l) => /^Target trained directly/.test(l.trim())),
          labels.join('|'),
        );
        assert.ok(!labels.some((l) => l.trim() === 'Oracle'), 'Oracle is not on the gradients axis');
        const log = page.locator('[data-testid="transfer-chart"] [data-testid="log-y"]');
        await log.check();
        await waitAttr(page, chart, 'data-log', '1');
        await page.locator('[data-testid="transfer-chart"] [data-testid="smoothing"]').fill('0.6');
        await waitAttr(page, chart, 'data-ready', '1'); // the chart is made a frame after its box
        await page.locator(`${chart} canvas`).scrollIntoViewIfNeeded();
        const box = (await page.locator(`${chart} canvas`).boundingBox())!;
        await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
        await page.mouse.down();
        await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.7, { steps: 6 });
        await page.mouse.up();
        await waitAttr(page, chart, 'data-zoomed', '1');
        await shot(page, '30-run-tools-zoomed');
        await page.locator('[data-testid="transfer-chart"] [data-testid="reset-zoom"]').click();
        await waitAttr(page, chart, 'data-zoomed', '0');
        // hovering reads every method at one x: chart.js draws the tooltip; the screenshot shows it
        await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
        await page.waitForTimeout(200);
        await shot(page, '31-run-hover');
        await page.goto(`${base}#/run/${twins.ids[0]}?x=seconds`);
        await waitAttr(page, chart, 'data-x-title', 'seconds since the method started');
      });

      await t.test('run page: a reused source says so; a cancelled method shows how far it got', async () => {
        await page.goto(`${base}#/run/${twins.ids[1]}`);
        const src = page.locator('tr[data-phase="source"] [data-col="time"]');
        await src.waitFor();
        assert.equal((await src.innerText()).trim(), 'reused');
        const bar = page.locator('tr[data-phase="transfer:0:fgmt"] [role="progressbar"]');
        assert.equal(
          await page.locator('tr[data-phase="transfer:0:fgmt"]').getAttribute('data-status'),
          'cancelled',
        );
        assert.equal(Number(await bar.getAttribute('aria-valuenow')), 100, 'all 11 of T + 1 points exist');
      });

      await t.test('run page: result.json, per-method CSV, report, CLI command', async () => {
        await page.goto(`${base}#/run/${twins.ids[0]}`);
        await waitAttr(page, chart, 'data-series', /gmt:11/);
        await page.getByTestId('downloads').click();
        const result = await download(page, () => page.getByTestId('download-result').click());
        const json = JSON.parse(result.text) as {
          formatVersion: number;
          targets: { methods: Record<string, { valAccuracy: number[] }> }[];
        };
        assert.equal(json.formatVersion, 1);
        assert.equal(json.targets[0].methods.gmt.valAccuracy.length, 11);
        const csv = await download(page, () => page.getByTestId('download-csv-gmt').click());
        assert.match(csv.name, /\.gmt\.csv$/);
        assert.equal(csv.text.trim().split('\n').length, 1 + 22, 'header + 11 steps × 2 keys');
        const report = await download(page, () => page.getByTestId('download-report').click());
        assert.match(report.name, /\.report\.html$/);
        assert.ok(
          report.text.includes('<svg') &&
            report.text.includes('class="ref"') &&
            !/<script/i.test(report.text),
        );
        assert.ok(report.text.includes('&quot;transfer&quot;'), 'the exact spec is in the report');
        await page.getByTestId('copy-cli').click();
        await page.getByTestId('copy-cli').getByText('Copied').waitFor();
        const clip = (await page.evaluate('navigator.clipboard.readText()')) as string;
        assert.match(clip, /npm run lab -- run twin-0001\.json --out runs\/twin-0001/);
        await shot(page, '32-run-downloads');
      });

      await t.test('compare: identical runs counted once; unpooled legend shows each dash', async () => {
        await page.goto(`${base}#/compare?ids=${twins.ids.join(',')}`);
        await page.getByTestId('dedupe-note').waitFor();
        assert.match(await page.getByTestId('dedupe-note').innerText(), /6 runs repeat a computation/);
        const runsCells = await page
          .locator('[data-testid="summary-table"] tbody tr[data-method] td:nth-child(2)')
          .allInnerTexts();
        assert.ok(runsCells.length >= 6 && runsCells.every((c) => c.trim() === '1/1'), runsCells.join(' '));
        await page.getByTestId('pool').uncheck();
        await page.locator('[data-testid="compare-chart"] [data-legend="twin 0002 · GMT"]').waitFor();
        const dashA = await page
          .locator('[data-testid="compare-chart"] [data-legend="twin 0001 · GMT"] line')
          .getAttribute('stroke-dasharray');
        const dashB = await page
          .locator('[data-testid="compare-chart"] [data-legend="twin 0002 · GMT"] line')
          .getAttribute('stroke-dasharray');
        assert.equal(dashA, null, 'the first experiment is solid');
        assert.ok(dashB && dashB.length > 0, 'the second experiment’s legend swatch is dashed');
        await page.locator('#c-key').selectOption('valLoss');
        await waitAttr(page, '[data-testid="compare-chart"] .chart-box', 'data-y-title', 'validation loss');
      });

      await t.test('compare: significance with n, scatter brushing filters the table, report', async () => {
        await page.goto(`${base}#/compare?ids=${sweep.ids.join(',')}&x=gradients`);
        const sig = page.getByTestId('sig-result');
        await sig.waitFor();
        // the bootstrap runs in slices after the page is drawn
        await page.waitForFunction(() =>
          /bootstrap 95 % CI/.test(document.querySelector('[data-testid="sig-result"]')?.textContent ?? ''),
        );
        assert.match(
          await sig.innerText(),
          /n = 24 vs 24.*Welch's t = -?\d+\.\d+, df = \d+\.\d, p = .*bootstrap 95 % CI/s,
        );
        await page.locator('#ex-x').selectOption('source.train.lr');
        const scatter = page.getByTestId('scatter');
        await waitAttr(page, '[data-testid="scatter"]', 'data-points', '8');
        const rowsBefore = await page.locator('[data-testid="explore-table"] tbody tr[data-id]').count();
        assert.equal(rowsBefore, 8);
        await scatter.scrollIntoViewIfNeeded();
        const b = (await scatter.boundingBox())!;
        // the left third of the x-axis: lr = 0.01 only
        await page.mouse.move(b.x + b.width * 0.06, b.y + 2);
        await page.mouse.down();
        await page.mouse.move(b.x + b.width * 0.3, b.y + b.height * 0.85, { steps: 5 });
        await page.mouse.up();
        await page.waitForFunction(() => /brush=/.test(location.hash));
        const lrs = await page
          .locator('[data-testid="explore-table"] tbody tr[data-id] td:nth-child(2)')
          .allInnerTexts();
        assert.ok(lrs.length > 0 && lrs.length < 8, `brushed ${lrs.length}`);
        assert.ok(
          lrs.every((v) => v.trim() === '0.01'),
          lrs.join(' '),
        );
        await shot(page, '33-compare-significance-scatter');
        const report = await download(page, () => page.getByTestId('export-report').click());
        assert.ok(
          report.text.includes('Welch') &&
            report.text.includes('<svg') &&
            report.text.includes('Settings that differ'),
        );
      });

      await t.test('compare: parallel coordinates; brushing axes filters the table', async () => {
        await page.goto(`${base}#/compare?ids=${sweep.ids.join(',')}`);
        await page.getByTestId('explore-parallel').click();
        const pc = '[data-testid="parallel"]';
        await waitAttr(page, pc, 'data-lines', '8');
        const axes = await page
          .locator(`${pc} [data-field]`)
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-field')));
        assert.deepEqual(axes, [
          'model.hidden',
          'source.train.lr',
          'final:gmt',
          'final:fgmt',
          'final:oracle',
          'final:naive',
        ]);
        await page.locator(pc).scrollIntoViewIfNeeded();
        /** Drags along an axis from one position (0 bottom, 1 top) to another. */
        const brush = async (field: string, from: number, to: number): Promise<void> => {
          const b = (await page.locator(`${pc} [data-field="${field}"] line.frame`).boundingBox())!;
          const y = (p: number): number => b.y + b.height * (1 - p);
          await page.mouse.move(b.x, y(from));
          await page.mouse.down();
          await page.mouse.move(b.x, y(to), { steps: 5 });
          await page.mouse.up();
        };
        const column = (field: string): Promise<string[]> =>
          page
            .locator(`[data-testid="explore-table"] tbody tr[data-id] td[data-col="${field}"]`)
            .allInnerTexts();
        // lr runs 0.01 … 0.05 bottom to top: the lowest fifth holds 0.01 only
        await brush('source.train.lr', 0, 0.2);
        await page.waitForFunction(() => /pcb=/.test(location.hash));
        await waitAttr(page, pc, 'data-selected', '3');
        assert.deepEqual(await column('source.train.lr'), ['0.01', '0.01', '0.01']);
        // and the wider half of the widths ([256], [512]) on top of it
        await brush('model.hidden', 1, 0.5);
        await waitAttr(page, pc, 'data-selected', '2');
        const hidden = await column('model.hidden');
        assert.deepEqual([...hidden].sort(), ['[256]', '[512]']);
        assert.deepEqual(await column('source.train.lr'), ['0.01', '0.01']);
        assert.equal(
          await page.locator(`${pc} path[data-selected]`).count(),
          2,
          'the brushed lines are drawn in colour',
        );
        await shot(page, '37-compare-parallel-brushed');
        // the brushes are in the URL: a reload shows the same selection
        await page.reload();
        await waitAttr(page, pc, 'data-selected', '2');
        // a click on an axis clears its brush
        await page.locator(pc).scrollIntoViewIfNeeded();
        const lr = (await page.locator(`${pc} [data-field="source.train.lr"] line.frame`).boundingBox())!;
        await page.mouse.click(lr.x, lr.y + lr.height / 2);
        await waitAttr(page, pc, 'data-selected', '4');
        await page.getByTestId('clear-brush').click();
        await waitAttr(page, pc, 'data-selected', '8');
        assert.equal(await page.locator('[data-testid="explore-table"] tbody tr[data-id]').count(), 8);
      });

      await t.test('history: sort by a metric, columns, saved filter, shift-click, keys', async () => {
        await page.goto(`${base}#/history`);
        await page.locator('[data-testid="history-table"] tbody tr[data-id]').first().waitFor();
        await page.getByTestId('history-sort').selectOption('best:gmt');
        await page.waitForFunction(() => /sort=best%3Agmt|sort=best:gmt/.test(location.hash));
        await page.waitForTimeout(300);
        const best = await page
          .locator('[data-testid="history-table"] tbody tr[data-id] td[data-col="best"] .chip:first-child')
          .allInnerTexts();
        const nums = best.map((s) => Number(/([\d.]+)%/.exec(s)![1]));
        for (let i = 1; i < nums.length; i++) assert.ok(nums[i - 1] >= nums[i], `sorted: ${nums.join(' ')}`);
        await page.getByTestId('columns').click();
        await page.getByTestId('col-final').check();
        await page.getByTestId('col-notes').uncheck();
        await page.locator('th[data-col="final"]').waitFor();
        await page.getByTestId('columns').click();
        await page.locator('#h-search').fill('sweep');
        await page.getByTestId('save-filter').click();
        await page.getByTestId('filter-name').fill('sweeps by GMT');
        await page.getByTestId('filter-save').click();
        await page.reload();
        await page.getByTestId('saved-filter').getByText('sweeps by GMT').waitFor();
        assert.equal(await page.locator('th[data-col="final"]').count(), 1, 'the column choice persists');
        await page.locator('#h-search').fill('');
        await page.getByTestId('saved-filter').getByText('sweeps by GMT').click();
        await page.waitForFunction(() => /search=sweep/.test(location.hash));
        await page.waitForFunction(
          () => document.querySelectorAll('[data-testid="history-table"] tbody tr[data-id]').length === 8,
        );
        const boxes = page.locator('[data-testid="history-table"] tbody tr[data-id] input[type="checkbox"]');
        await boxes.nth(1).click();
        await boxes.nth(5).click({ modifiers: ['Shift'] });
        await page.getByText('5 selected').waitFor();
        await shot(page, '34-history-tools');
        await page.locator('h1').click(); // focus out of the inputs
        await page.keyboard.press('/');
        assert.equal(await page.evaluate(() => document.activeElement?.id), 'h-search');
        await page.locator('h1').click();
        await page.keyboard.press('c');
        await page.waitForURL(/#\/compare\?ids=/);
        const picked = decodeURIComponent(new URL(page.url()).hash.split('ids=')[1].split('&')[0]).split(',');
        assert.equal(picked.length, 5);
        await page.goto(`${base}#/history`);
        await page.locator('[data-testid="history-table"]').waitFor();
        await page.locator('h1').click();
        await page.keyboard.press('n');
        await page.waitForURL(/#\/new/);
      });

      await t.test('the register-dataset format select shows its longest option', async () => {
        await page.goto(`${base}#/library`);
        await page.getByText('Register a dataset').click();
        await page.locator('#dr-choice').selectOption('files');
        const fits = await page.locator('#dr-format').evaluate((el: HTMLSelectElement) => {
          const ctx = document.createElement('canvas').getContext('2d')!;
          ctx.font = getComputedStyle(el).font;
          const longest = Math.max(...Array.from(el.options, (o) => ctx.measureText(o.text).width));
          return { width: el.clientWidth, longest };
        });
        assert.ok(fits.width >= fits.longest + 20, JSON.stringify(fits));
      });

      await t.test('deleting a running experiment warns that it is running', async () => {
        await page.goto(`${base}#/new?preset=quick`);
        await page.locator('.wizard[data-step="dataset"]').waitFor();
        await page.locator('[data-testid="samples"] img').first().waitFor({ timeout: 60_000 });
        for (const step of ['model', 'source', 'targets', 'transfer', 'analyses', 'review']) {
          await page.getByTestId('wizard-next').click();
          await page.locator(`.wizard[data-step="${step}"]`).waitFor();
        }
        await page.locator('#rv-name').fill('running one');
        await page.getByTestId('run-experiment').click();
        await page.waitForURL(/#\/run\//, { timeout: 30_000 });
        await page.waitForFunction(
          () =>
            ['running', 'queued'].includes(
              document.querySelector('.page-head [data-status]')?.getAttribute('data-status') ?? '',
            ),
          undefined,
          { timeout: 30_000 },
        );
        await page.locator('.page-head').getByRole('button', { name: 'Delete' }).click();
        const dialog = page.getByRole('dialog');
        await dialog.waitFor();
        assert.match(await dialog.innerText(), /still running/);
        await page.getByTestId('confirm-ok').click();
        await page.waitForURL(/#\/history/, { timeout: 30_000 });
      });

      await t.test('no script errors or CSP violations', async () => {
        const csp = (await page.evaluate('window.__csp')) as string[];
        assert.deepEqual(csp, [], 'no Content-Security-Policy violations (zoom plugin, SVG legend, report)');
        const errors = log.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|favicon/.test(e));
        assert.deepEqual(errors, []);
      });

      // The issue's targets: first paint within 1 s and no main-thread task over 100 ms, for
      // History and Compare with 1,000 experiments and 100,000 metric points. Long tasks are
      // counted from the page's first script until everything the page draws in steps (Compare's
      // sections, its chart, the bootstrap) is done, and half a second more.
      await t.test('1,000 experiments and 100,000 metric points: History and Compare', async () => {
        // the page the other subtests used would share the renderer (and its long tasks) with this one
        await page.close();
        await host!.stop();
        host = null;
        const t0 = Date.now();
        // every experiment its own computation: Compare pools all 4,000 transfers (nothing repeats)
        const seeded = seedStore(perfDir, {
          experiments: 1000,
          T: 10,
          namePrefix: 'perf',
          distinctSources: true,
        });
        assert.equal(seeded.points, 100_000);
        console.log(
          `# seeded 1,000 experiments / ${seeded.points} points in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
        );
        perfHost = await startHost(perfDir);
        const p2 = await openPage(ctx, log);
        /** The longest task, and every long one as start+duration (ms since the page began). */
        const longTasks = async (): Promise<{ longest: number; tasks: string }> => {
          const lt = ((await p2.evaluate('window.__longtasks')) ?? []) as {
            start: number;
            duration: number;
          }[];
          return {
            longest: lt.reduce((a, l) => Math.max(a, l.duration), 0),
            tasks: lt.map((l) => `${l.start.toFixed(0)}+${l.duration.toFixed(0)}`).join(' '),
          };
        };
        const measure = async (
          hash: string,
          ready: string,
          done: string,
        ): Promise<{ fcp: number; ready: number; longest: number; tasks: string }> => {
          await p2.goto('about:blank');
          await p2.goto(`${perfHost!.url}${hash}`);
          await p2.locator(ready).first().waitFor({ timeout: 60_000 });
          const readyAt = (await p2.evaluate('performance.now()')) as number;
          await p2.locator(done).first().waitFor({ timeout: 60_000 });
          await p2.waitForTimeout(500);
          const fcp = (await p2.evaluate(
            `performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1`,
          )) as number;
          return { fcp, ready: readyAt, ...(await longTasks()) };
        };
        const fmt = (n: string, m: { fcp: number; ready: number; longest: number; tasks: string }): string =>
          `${n}: first contentful paint ${m.fcp.toFixed(0)} ms, table ready ${m.ready.toFixed(0)} ms, longest task ${m.longest.toFixed(0)} ms (tasks over 50 ms, start+duration: ${m.tasks || 'none'})`;
        /**
         * One measurement of both pages. A shared machine's scheduler stretches single tasks at
         * random, so a page gets up to three tries, each from a blank page and printed; the
         * budgets are asserted on the last (the first that meets them all, or the third).
         */
        const measureBoth = async () => {
          const hist = await measure(
            '#/history',
            '[data-testid="history-table"] tbody tr[data-id]',
            '.selection-bar >> text=1–1000 of 1000',
          );
          const rendered = await p2.locator('[data-testid="history-table"] tbody tr[data-id]').count();
          assert.ok(rendered < 100, `virtualised: ${rendered} rows rendered of 1,000`);
          await shot(p2, '35-history-1000');
          const cmp = await measure(
            `#/compare?ids=${seeded.ids.join(',')}`,
            '[data-testid="summary-table"] tbody tr[data-method]',
            '[data-testid="diff-table"], [data-testid="diff-none"]',
          );
          await p2.locator('[data-testid="compare-chart"] .chart-box[data-ready="1"]').waitFor();
          await p2.waitForFunction(() =>
            /bootstrap 95 % CI/.test(document.querySelector('[data-testid="sig-result"]')?.textContent ?? ''),
          );
          Object.assign(cmp, await longTasks());
          await shot(p2, '36-compare-1000');
          return { hist, cmp };
        };
        const withinBudget = (m: { fcp: number; longest: number }): boolean =>
          m.fcp > 0 && m.fcp <= 1000 && m.longest <= 100;
        let { hist, cmp } = await measureBoth();
        for (let attempt = 1; ; attempt++) {
          console.log(`# try ${attempt}: ${fmt('History (1,000 experiments)', hist)}`);
          console.log(`# try ${attempt}: ${fmt('Compare (1,000 experiments, 100k points)', cmp)}`);
          console.log(
            `# load average while measuring: ${loadavg()[0].toFixed(1)} on ${cpus().length} cores (the budgets assume an otherwise idle machine)`,
          );
          if ((withinBudget(hist) && withinBudget(cmp)) || attempt === 3) break;
          ({ hist, cmp } = await measureBoth());
        }
        assert.deepEqual(await p2.evaluate('window.__csp'), [], 'no CSP violations (chunks, chart)');
        assert.deepEqual(
          log.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|favicon/.test(e)),
          [],
        );
        assert.ok(hist.fcp > 0 && hist.fcp <= 1000, `History first paint ${hist.fcp.toFixed(0)} ms > 1 s`);
        assert.ok(cmp.fcp > 0 && cmp.fcp <= 1000, `Compare first paint ${cmp.fcp.toFixed(0)} ms > 1 s`);
        assert.ok(hist.longest <= 100, `History: a main-thread task took ${hist.longest.toFixed(0)} ms`);
        assert.ok(cmp.longest <= 100, `Compare: a main-thread task took ${cmp.longest.toFixed(0)} ms`);
      });
    } finally {
      await browser?.close();
      await (host as Host | null)?.stop();
      await (perfHost as Host | null)?.stop();
      await rm(dir, { recursive: true, force: true });
      await rm(perfDir, { recursive: true, force: true });
    }
  },
);
