/**
 * The lab end to end in real Chromium against `serve` on fresh data folders: the quick preset
 * through the wizard (with a refused invalid value), live curves of all four methods, history and
 * tags, a second run and the comparison (bands, table, diff, PNG/SVG/CSV), a bundle exported from
 * one lab and imported into a second one with the same numbers. Screenshots of every screen go
 * to test-results/screenshots/ (tests never write tracked files).
 *
 *   node --import tsx --test test/e2e/lab.e2e.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { parseCsv } from '../../src/renderer/src/lib/csv.js';
import {
  buildRenderer,
  CHROMIUM,
  haveChromium,
  INSTRUMENT,
  launchChromium,
  next,
  openPage,
  parseSeries,
  ROOT,
  shot,
  SHOTS,
  startHost,
  type Host,
  type PageLog,
} from '../helpers/e2e.js';

const METHODS = ['gmt', 'fgmt', 'oracle', 'naive'];
const T = 5;
const RUN_TIMEOUT = 240_000;

/** Runs the quick preset through the wizard; `edit` changes the review step's form first. */
async function runQuickPreset(
  page: Page,
  baseUrl: string,
  name: string,
  targetSeed: number,
  opts: { checkInvalid?: boolean; pickTrained?: boolean; paramTarget?: string } = {},
): Promise<string> {
  await page.goto(`${baseUrl}#/new?preset=quick`);
  await page.locator('.wizard[data-step="dataset"]').waitFor();
  await page.locator('[data-testid="samples"] img').first().waitFor({ timeout: 60_000 });
  if (opts.checkInvalid) {
    await shot(page, '02-wizard-dataset');
    // A folder the lab cannot read: the services' reason shows at the dataset, and Next refuses.
    await page.getByLabel(/Files on disk/).check();
    await page.locator('#ds-dir').fill('/nonexistent/lab-e2e-data');
    await page.getByRole('button', { name: 'Load preview' }).click();
    const err = page.getByTestId('preview-error');
    await err.waitFor();
    assert.ok((await err.innerText()).length > 40, 'the preview error explains itself');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('step-errors').waitFor();
    assert.equal(await page.locator('.wizard').getAttribute('data-step'), 'dataset');
    await shot(page, '02b-wizard-dataset-error');
    await page.getByLabel(/Bundled Fashion-MNIST subset/).check();
    await page.locator('[data-testid="samples"] img').first().waitFor();
  }
  await next(page, 'model');
  if (opts.checkInvalid) await shot(page, '03-wizard-model');
  await next(page, 'source');
  if (opts.checkInvalid) {
    // An invalid value: the step does not advance and says why, at the field.
    await page.locator('#src-epochs').fill('0');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('step-errors').waitFor();
    assert.equal(
      await page.locator('.wizard').getAttribute('data-step'),
      'source',
      'the wizard must stay on the step with the invalid value',
    );
    assert.match(await page.getByTestId('step-errors').innerText(), /Epochs must be at least 1/);
    assert.equal(await page.locator('#src-epochs').getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('#src-epochs-err').innerText(), /at least 1/);
    await shot(page, '04-wizard-invalid');
    await page.locator('#src-epochs').fill('2');
    assert.equal(await page.getByTestId('step-errors').count(), 0, 'fixing the value clears the error');
  }
  if (opts.pickTrained) {
    // The source trained by the first experiment is offered; picking it fills the source section.
    const row = page.locator('tr', { hasText: 'source seed 101' });
    await row.getByRole('button', { name: 'Use this source' }).click();
    await page.getByTestId('reuse-note').waitFor();
    await shot(page, '16-wizard-trained-source');
  }
  await next(page, 'targets');
  await page.locator('#tg-0-seed').fill(String(targetSeed));
  if (opts.paramTarget) {
    await page.getByRole('button', { name: '+ Add a parameter set' }).click();
    await page.locator('#tg-1-ps').selectOption({ label: opts.paramTarget });
    await page.locator('[data-testid="target-1"]', { hasText: 'fits the architecture' }).waitFor();
  }
  if (opts.checkInvalid) await shot(page, '05-wizard-targets');
  await next(page, 'transfer');
  await page.getByTestId('cost-total').waitFor();
  if (opts.checkInvalid) await shot(page, '06-wizard-transfer');
  await next(page, 'analyses');
  await next(page, 'review');
  await page.locator('#rv-name').fill(name);
  const spec = JSON.parse(await page.getByTestId('spec-json').innerText()) as {
    transfer: { T: number; methods: string[] };
    targets: { init: { seed?: number; file?: string } }[];
  };
  assert.equal(spec.transfer.T, T);
  assert.deepEqual([...spec.transfer.methods].sort(), [...METHODS].sort());
  assert.equal(spec.targets[0].init.seed, targetSeed);
  if (opts.paramTarget) assert.equal(spec.targets.length, 2);
  if (opts.checkInvalid) await shot(page, '07-wizard-review');
  await page.getByTestId('run-experiment').click();
  await page.waitForURL(/#\/run\//, { timeout: 30_000 });
  return decodeURIComponent(/#\/run\/([^?]+)/.exec(page.url())![1]);
}

interface RunWatch {
  /** methods whose curve had points while the experiment was still running */
  seenLive: string[];
  seconds: number;
  /** long main-thread tasks (> 50 ms) while the job ran; null where Chromium has no longtask timing */
  longTasks: { count: number; longest: number } | null;
}

/** Waits for the run to finish, noting which curves appeared while it ran; screenshots mid-run. */
async function watchRun(page: Page, shotName: string | null): Promise<RunWatch> {
  const t0 = Date.now();
  const pageT0 = (await page.evaluate('performance.now()')) as number;
  const seenLive = new Set<string>();
  let shotTaken = shotName === null;
  /** a full-page screenshot re-lays out the page (charts resize): its tasks are not the app's */
  const excluded: [number, number][] = [];
  for (;;) {
    const status = await page.locator('.page-head [data-status]').first().getAttribute('data-status');
    const series = parseSeries(
      await page.locator('[data-testid="transfer-chart"] .chart-box').getAttribute('data-series'),
    );
    if (status === 'running' || status === 'queued') {
      for (const [m, s] of Object.entries(series)) if (s.points > 0) seenLive.add(m);
      if (!shotTaken && status === 'running' && Object.values(series).some((s) => s.points > 1)) {
        const s0 = (await page.evaluate('performance.now()')) as number;
        await shot(page, shotName!);
        excluded.push([s0, (await page.evaluate('performance.now()')) as number]);
        shotTaken = true;
      }
    }
    if (status === 'done') break;
    if (status === 'failed' || status === 'cancelled' || status === 'interrupted') {
      const log = await page.getByTestId('log').innerText();
      throw new Error(`the experiment ended ${status}:\n${log}`);
    }
    if (Date.now() - t0 > RUN_TIMEOUT)
      throw new Error(`the experiment did not finish in ${RUN_TIMEOUT / 1000} s (status ${status})`);
    await page.waitForTimeout(200);
  }
  // All four methods drawn with T + 1 points.
  await page.waitForFunction(
    ([methods, n]) => {
      const attr =
        document.querySelector('[data-testid="transfer-chart"] .chart-box')?.getAttribute('data-series') ??
        '';
      return (methods as string[]).every((m) => attr.includes(`${m}:${n}`));
    },
    [METHODS, T + 1] as const,
    { timeout: 10_000 },
  );
  const tasks = (await page.evaluate('window.__longtasks')) as { start: number; duration: number }[] | null;
  const during =
    tasks?.filter(
      (l) => l.start >= pageT0 && !excluded.some(([a, b]) => l.start >= a - 5 && l.start <= b + 50),
    ) ?? null;
  return {
    seenLive: [...seenLive],
    seconds: (Date.now() - t0) / 1000,
    longTasks: during && {
      count: during.length,
      longest: during.reduce((a, l) => Math.max(a, l.duration), 0),
    },
  };
}

async function summaryNumbers(page: Page): Promise<Record<string, string[]>> {
  const rows = page.locator('[data-testid="summary-table"] tbody tr[data-method]');
  const out: Record<string, string[]> = {};
  for (let i = 0; i < (await rows.count()); i++) {
    const r = rows.nth(i);
    const m = (await r.getAttribute('data-method'))!;
    out[m] = [
      await r.locator('[data-col="final"]').innerText(),
      await r.locator('[data-col="best"]').innerText(),
      await r.locator('[data-col="test"]').innerText(),
    ];
  }
  return out;
}

async function download(page: Page, click: () => Promise<void>): Promise<{ name: string; bytes: Buffer }> {
  const [d] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = await d.path();
  return { name: d.suggestedFilename(), bytes: await readFile(path) };
}

test(
  'the lab end to end in Chromium',
  {
    timeout: 15 * 60_000,
    skip: haveChromium ? false : `no Chromium at ${CHROMIUM} (install Debian's chromium or set LAB_CHROMIUM)`,
  },
  async (t) => {
    await mkdir(SHOTS, { recursive: true });
    buildRenderer();
    const dirA = await mkdtemp(join(tmpdir(), 'lab-e2e-a-'));
    const dirB = await mkdtemp(join(tmpdir(), 'lab-e2e-b-'));
    const log: PageLog = { errors: [] };
    let hostA: Host | null = null;
    let hostB: Host | null = null;
    let browser: Browser | null = null;
    let bundlePath: string | null = null;
    try {
      hostA = await startHost(dirA);
      browser = await launchChromium();
      const ctx = await browser.newContext({
        viewport: { width: 1440, height: 1000 },
        acceptDownloads: true,
        colorScheme: 'light',
      });
      await ctx.addInitScript(INSTRUMENT);
      const page = await openPage(ctx, log);
      const base = hostA.url;
      let firstId = '';
      let secondId = '';

      await t.test('home shows the backend and quick actions', async () => {
        await page.goto(base);
        await page.getByTestId('preset-quick').waitFor();
        await page.getByRole('heading', { name: 'Recent experiments' }).waitFor();
        await shot(page, '01-home');
      });

      await t.test('quick preset through the wizard; an invalid value cannot advance', async () => {
        firstId = await runQuickPreset(page, base, 'Quick demo A', 102, { checkInvalid: true });
        assert.ok(firstId);
      });

      await t.test('curves of all four methods appear live and the run finishes', async () => {
        const w = await watchRun(page, '08-run-live');
        await shot(page, '09-run-done');
        console.log(
          `# first experiment finished in ${w.seconds.toFixed(1)} s; curves seen while running: ${w.seenLive.join(', ') || 'none'}`,
        );
        assert.ok(
          w.seenLive.length > 0,
          'at least one method’s curve must appear before the experiment finishes (live streaming)',
        );
        const nums = await summaryNumbers(page);
        for (const m of METHODS)
          assert.match(nums[m]?.[0] ?? '', /%/, `summary has a final accuracy for ${m}`);
        const all = (await page.evaluate('window.__longtasks')) as { duration: number }[] | null;
        if (all === null || w.longTasks === null)
          console.log('# longtask observer unavailable in this Chromium');
        else {
          const max = all.reduce((a, l) => Math.max(a, l.duration), 0);
          console.log(
            `# main thread while the job ran (${w.seconds.toFixed(0)} s): ${w.longTasks.count} long tasks (>50 ms), longest ${w.longTasks.longest.toFixed(0)} ms; whole session so far: ${all.length}, longest ${max.toFixed(0)} ms`,
          );
        }
      });

      await t.test('history finds it and a tag sticks', async () => {
        await page.goto(`${base}#/history`);
        const row = page.locator(`tr[data-id="${firstId}"]`);
        await row.waitFor();
        await row.getByRole('textbox', { name: /Add a tag/ }).fill('e2e-tag');
        await row.getByRole('textbox', { name: /Add a tag/ }).press('Enter');
        await row.locator('[data-testid="tag"]', { hasText: 'e2e-tag' }).waitFor();
        await page.reload();
        await page.locator(`tr[data-id="${firstId}"] [data-testid="tag"]`, { hasText: 'e2e-tag' }).waitFor();
        await page.locator('#h-tag').fill('e2e-tag');
        await page.waitForFunction(
          () => document.querySelectorAll('[data-testid="history-table"] tbody tr').length === 1,
        );
        await shot(page, '10-history');
        await page.locator('#h-tag').fill('');
      });

      await t.test('parameter sets: import, a misfit target is refused with the reason', async () => {
        const spec = join(dirA, 'mlp-spec.json');
        for (const [hidden, file] of [
          [128, 'mlp128.safetensors'],
          [256, 'mlp256.safetensors'],
        ] as const) {
          await writeFile(
            spec,
            JSON.stringify({
              dataset: { builtin: 'fashion-mnist-mini' },
              model: { arch: 'mlp', hidden: [hidden] },
              source: { init: { seed: 1 } },
              targets: [{ init: { seed: 2 } }],
            }),
          );
          const r = spawnSync(
            process.execPath,
            [
              '--import',
              'tsx',
              'src/cli/main.ts',
              'init-params',
              spec,
              '--seed',
              '7',
              '--out',
              join(dirA, file),
            ],
            { cwd: ROOT, encoding: 'utf8' },
          );
          assert.equal(r.status, 0, r.stderr);
        }
        await page.goto(`${base}#/library`);
        for (const [hidden, file] of [
          ['128', 'mlp128.safetensors'],
          ['256', 'mlp256.safetensors'],
        ]) {
          await page.getByText('Import a parameter set (.safetensors)').click();
          await page.locator('#pi-file').setInputFiles(join(dirA, file));
          await page.locator('#pi-name').fill(`mlp${hidden} seed 7`);
          await page.locator('#pi-hidden').fill(hidden);
          await page.getByRole('button', { name: 'Import', exact: true }).click();
          await page.getByText(`Imported “mlp${hidden} seed 7”`).waitFor();
          await page.getByText('Import a parameter set (.safetensors)').click();
        }
        await page.goto(`${base}#/new?preset=quick`);
        await page.locator('[data-testid="samples"] img').first().waitFor();
        await next(page, 'model');
        await next(page, 'source');
        await next(page, 'targets');
        await page.getByRole('button', { name: '+ Add a parameter set' }).click();
        await page.locator('#tg-1-ps').selectOption({ label: 'mlp128 seed 7 (imported)' });
        const refusal = page.locator('[data-testid="target-1"] .field-error');
        await refusal.waitFor();
        assert.match(await refusal.innerText(), /128/, 'the refusal says what does not match');
        await page.getByTestId('wizard-next').click();
        await page.getByTestId('step-errors').waitFor();
        assert.equal(await page.locator('.wizard').getAttribute('data-step'), 'targets');
        assert.match(await page.getByTestId('step-errors').innerText(), /cannot be used/);
        await shot(page, '18-wizard-target-refused');
      });

      await t.test(
        'a second run (reusing the trained source, one more target from a parameter set) and the comparison',
        async () => {
          secondId = await runQuickPreset(page, base, 'Quick demo B', 202, {
            pickTrained: true,
            paramTarget: 'mlp256 seed 7 (imported)',
          });
          const w = await watchRun(page, null);
          console.log(`# second experiment (trained source reused) finished in ${w.seconds.toFixed(1)} s`);
          await page.goto(`${base}#/history`);
          for (const id of [firstId, secondId])
            await page.locator(`tr[data-id="${id}"] input[type="checkbox"]`).check();
          await page.getByTestId('compare-selected').click();
          await page.waitForURL(/#\/compare/);
          await page.getByTestId('summary-table').waitFor();
          await page.waitForFunction(
            (methods) => {
              const attr =
                document
                  .querySelector('[data-testid="compare-chart"] .chart-box')
                  ?.getAttribute('data-series') ?? '';
              return (methods as string[]).every((m) => new RegExp(`(^| )${m}:\\d+:band`).test(attr));
            },
            METHODS,
            { timeout: 15_000 },
          );
          const nums = await summaryNumbers(page);
          for (const m of METHODS)
            assert.match(nums[m]?.[0] ?? '', /±/, `${m} shows mean ± std over the two experiments`);
          const diff = await page.getByTestId('diff-table').innerText();
          assert.match(diff, /targets\[0\]\.init\.seed/);
          assert.doesNotMatch(diff, /source\.train\.lr/, 'settings that are equal are hidden by default');
          await page.getByTestId('diff-all').check();
          await page.waitForFunction(() =>
            (document.querySelector('[data-testid="diff-table"]')?.textContent ?? '').includes(
              'source.train.lr',
            ),
          );
          await page.getByTestId('diff-all').uncheck();
          await page.waitForTimeout(300);
          // (docs/screenshots/compare.png is made on purpose by `npm run screenshots`, not by tests)
          await shot(page, '11-compare');

          const csv = await download(page, () => page.getByTestId('export-csv').click());
          assert.match(csv.name, /\.csv$/);
          const rows = parseCsv(csv.bytes.toString('utf8'));
          assert.deepEqual(rows[0], ['experiment', 'run', 'method', 'target', 'key', 'step', 'value']);
          for (const m of METHODS)
            assert.ok(
              rows.some((r) => r[2] === m && r[4] === 'valAccuracy'),
              `CSV has ${m} accuracy`,
            );
          const svg = await download(page, () => page.getByTestId('export-svg').click());
          const svgText = svg.bytes.toString('utf8');
          assert.ok(svgText.startsWith('<?xml') && svgText.includes('<svg'), 'SVG export is an SVG document');
          assert.ok(svgText.includes('class="band"'), 'SVG export draws the bands');
          const png = await download(page, () => page.getByTestId('export-png').click());
          assert.deepEqual(
            [...png.bytes.subarray(0, 8)],
            [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
            'PNG export is a PNG',
          );

          await page.emulateMedia({ colorScheme: 'dark' });
          await page.waitForTimeout(400);
          await shot(page, '12-compare-dark');
          await page.emulateMedia({ colorScheme: 'light' });
        },
      );

      let bundle: { name: string; bytes: Buffer } | null = null;
      let numbersA: Record<string, string[]> = {};
      await t.test('bundle export', async () => {
        await page.goto(`${base}#/compare?ids=${firstId},${secondId}`);
        await page.getByTestId('summary-table').waitFor();
        await page.waitForFunction(
          () => document.querySelectorAll('[data-testid="summary-table"] tbody tr[data-method]').length >= 4,
        );
        numbersA = await summaryNumbers(page);
        await page.goto(`${base}#/bundles`);
        await page.getByRole('button', { name: 'Select all shown' }).click();
        bundle = await download(page, () => page.getByTestId('export-bundle').click());
        assert.match(bundle.name, /\.zip$/);
        assert.equal(bundle.bytes.subarray(0, 2).toString('latin1'), 'PK');
        await shot(page, '13-bundles');
        await page.goto(`${base}#/library`);
        await page.getByTestId('params-table').waitFor();
        await shot(page, '14-library');
        await page.goto(`${base}#/`);
        await page.locator('main table.data tbody tr').nth(1).waitFor();
        await page.getByTestId('compute').getByText('Backend', { exact: true }).waitFor();
        await shot(page, '19-home-with-experiments');
      });

      await t.test('bundle import into a second, fresh lab shows the same numbers', async () => {
        assert.ok(bundle, 'the export step produced a bundle');
        hostB = await startHost(dirB);
        const pageB = await openPage(ctx, log);
        bundlePath = join(tmpdir(), `lab-e2e-${process.pid}-${bundle!.name}`);
        await writeFile(bundlePath, bundle!.bytes);
        await pageB.goto(`${hostB.url}#/bundles`);
        await pageB.getByTestId('bundle-file').setInputFiles(bundlePath);
        const report = pageB.getByTestId('import-report');
        await report.waitFor({ timeout: 60_000 });
        assert.match(await report.innerText(), /Added: 2 experiments/);
        await shot(pageB, '15-import');
        await pageB.goto(`${hostB.url}#/compare?ids=${firstId},${secondId}`);
        await pageB.getByTestId('summary-table').waitFor();
        await pageB.waitForFunction(
          () => document.querySelectorAll('[data-testid="summary-table"] tbody tr[data-method]').length >= 4,
        );
        const numbersB = await summaryNumbers(pageB);
        for (const m of METHODS)
          assert.deepEqual(numbersB[m], numbersA[m], `${m}: the imported lab shows the same final/best/test`);
        // Importing again adds nothing.
        await pageB.goto(`${hostB.url}#/bundles`);
        await pageB.getByTestId('bundle-file').setInputFiles(bundlePath);
        await pageB.getByTestId('import-report').waitFor();
        assert.match(
          await pageB.getByTestId('import-report').innerText(),
          /Already here \(skipped\): 2 experiments/,
        );
        const csp = (await pageB.evaluate('window.__csp')) as string[];
        assert.deepEqual(csp, [], 'no Content-Security-Policy violations');
      });

      await t.test('run again, cancel, resume', async () => {
        await page.goto(`${base}#/run/${firstId}`);
        await page.getByRole('button', { name: 'Run again' }).click();
        await page.waitForURL((u) => /#\/run\//.test(u.hash) && !u.hash.includes(firstId));
        const status = page.locator('.page-head [data-status]').first();
        await page.waitForFunction(() =>
          ['running', 'queued'].includes(
            document.querySelector('.page-head [data-status]')?.getAttribute('data-status') ?? '',
          ),
        );
        await page.getByTestId('cancel').click();
        await page.waitForFunction(
          () =>
            document.querySelector('.page-head [data-status]')?.getAttribute('data-status') === 'cancelled',
          undefined,
          { timeout: 30_000 },
        );
        await shot(page, '17-run-cancelled');
        await page.getByTestId('resume').click();
        await page.waitForFunction(() =>
          ['running', 'queued', 'done'].includes(
            document.querySelector('.page-head [data-status]')?.getAttribute('data-status') ?? '',
          ),
        );
        const w = await watchRun(page, null);
        assert.equal(await status.getAttribute('data-status'), 'done');
        console.log(`# re-run cancelled and resumed; finished ${w.seconds.toFixed(1)} s after resuming`);

        // Deleting asks first; cancelling the question keeps the row.
        const rerunId = decodeURIComponent(/#\/run\/([^?]+)/.exec(page.url())![1]);
        await page.goto(`${base}#/history`);
        const row = page.locator(`tr[data-id="${rerunId}"]`);
        await row.getByRole('button', { name: /^Delete / }).click();
        const dialog = page.getByRole('dialog');
        await dialog.waitFor();
        await dialog.getByRole('button', { name: 'Cancel' }).click();
        await dialog.waitFor({ state: 'hidden' });
        assert.equal(await row.count(), 1);
        await row.getByRole('button', { name: /^Delete / }).click();
        await page.getByTestId('confirm-ok').click();
        await row.waitFor({ state: 'detached' });
        await page.locator(`tr[data-id="${firstId}"]`).waitFor();
      });

      await t.test('no script errors or CSP violations', async () => {
        const csp = (await page.evaluate('window.__csp')) as string[];
        assert.deepEqual(csp, [], 'no Content-Security-Policy violations');
        // A reconnecting socket logs to the console when a host stops; only count real failures.
        const errors = log.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|favicon/.test(e));
        assert.deepEqual(errors, []);
      });
    } finally {
      await browser?.close();
      await (hostA as Host | null)?.stop();
      await (hostB as Host | null)?.stop();
      await rm(dirA, { recursive: true, force: true });
      await rm(dirB, { recursive: true, force: true });
      if (bundlePath) await rm(bundlePath, { force: true });
    }
  },
);
