/**
 * The run page's issue-12 features in Chromium against `serve`, on two small experiments really
 * run (in this process, recorded into a fresh data folder; the second reuses the first's source):
 * training loss and accuracy per SGD step in the training chart (x in epochs, steps or seconds,
 * per-step curves on and off); the transferred parameters at any step downloaded as safetensors
 * (at s they give exactly the validation accuracy the run recorded for s, so they are the run's
 * θ2^s); and links from each run page to the parameter sets it made or used and back.
 * Screenshots go to test-results/screenshots/run-page-*.png.
 *
 *   node --import tsx --test test/e2e/run-page.e2e.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { initBackend } from '../../src/core/backend.js';
import { loadDataset } from '../../src/core/data/load.js';
import { evaluate } from '../../src/core/evaluate.js';
import { buildModel } from '../../src/core/models/index.js';
import { disposeParams } from '../../src/core/params.js';
import { decodeParams } from '../../src/core/params-io.js';
import { parseSpec, type ExperimentSpec, type MethodResult } from '../../src/shared/domain/index.js';
import { runRecorded } from '../../src/services/jobs/in-process.js';
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
  waitAttr,
  type Host,
  type PageLog,
} from '../helpers/e2e.js';
import { tinySpec } from '../helpers/lab.js';

const T = 4;
const TRAINING = '[data-testid="training-chart"] .chart-box';

test(
  'run page: training per step, parameters at any step, parameter-set links (Chromium)',
  {
    timeout: 5 * 60_000,
    skip: haveChromium ? false : `no Chromium at ${CHROMIUM} (install Debian's chromium or set LAB_CHROMIUM)`,
  },
  async (t) => {
    await mkdir(SHOTS, { recursive: true });
    const dir = await mkdtemp(join(tmpdir(), 'lab-run-page-'));
    const log: PageLog = { errors: [] };
    let host: Host | null = null;
    let browser: Browser | null = null;
    try {
      buildRenderer();
      const specOf = (targetSeed: number, methods: string[]): ExperimentSpec => {
        const raw = tinySpec({ methods, epochs: 2, T });
        (raw.targets as { init: object }[])[0] = { init: { seed: targetSeed } };
        return parseSpec(raw);
      };
      const specA = specOf(201, ['naive', 'oracle', 'gmt']);
      const store = LabStore.open(dir);
      let a: string, b: string, sourceRun: string, spe: number, stepsRecorded: number;
      let gmtA: { id: string; summary: MethodResult };
      try {
        a = (await runRecorded({ store, spec: specA, name: 'A', origin: 'lab' })).experimentId;
        b = (await runRecorded({ store, spec: specOf(202, ['naive', 'gmt']), name: 'B', origin: 'lab' }))
          .experimentId;
        const runs = store.listRuns(a);
        sourceRun = runs.find((r) => r.kind === 'source')!.id;
        const g = runs.find((r) => r.method === 'gmt')!;
        gmtA = { id: g.id, summary: g.summary as MethodResult };
        const m = store.metrics([a]).filter((p) => p.runId === sourceRun);
        spe = m.find((p) => p.key === 'stepsPerEpoch')!.value;
        stepsRecorded = m.filter((p) => p.key === 'trainAccuracy').length;
        assert.equal(stepsRecorded, 2 * spe, 'every SGD step of two epochs is recorded');
      } finally {
        store.close();
      }
      host = await startHost(dir);
      browser = await launchChromium();
      const ctx = await browser.newContext({
        viewport: { width: 1440, height: 1000 },
        acceptDownloads: true,
        colorScheme: 'light',
      });
      await ctx.addInitScript(INSTRUMENT);
      const page = await openPage(ctx, log);
      const base = host.url;

      await t.test(
        'training chart: accuracy and loss per SGD step, x in epochs, steps, seconds',
        async () => {
          await page.goto(`${base}#/run/${a}`);
          // source and the Oracle target, each with validation per epoch and training per step
          await waitAttr(page, TRAINING, 'data-series', new RegExp(`${sourceRun}\\|train:${stepsRecorded}`));
          assert.equal(
            await page.locator(TRAINING).getAttribute('data-y-title'),
            'accuracy (validation; training per step)',
          );
          assert.equal(await page.locator(TRAINING).getAttribute('data-x-title'), 'epoch');
          await page.getByTestId('train-x').selectOption('step');
          await waitAttr(page, TRAINING, 'data-x-title', 'SGD step');
          assert.match(page.url(), /tx=step/);
          await page.getByRole('button', { name: 'Loss', exact: true }).click();
          await waitAttr(page, TRAINING, 'data-y-title', 'loss (validation; training per step)');
          await waitAttr(page, TRAINING, 'data-series', new RegExp(`${sourceRun}\\|train:${stepsRecorded}`));
          await shot(page, 'run-page-training-steps');
          await page.getByTestId('train-x').selectOption('seconds');
          await waitAttr(page, TRAINING, 'data-x-title', 'seconds since the training started');
          await waitAttr(page, TRAINING, 'data-series', new RegExp(`${sourceRun}\\|train:${stepsRecorded}`));
          // per-step curves off: validation only, and the URL keeps the choice
          await page.getByTestId('train-steps').uncheck();
          await waitAttr(page, TRAINING, 'data-y-title', 'validation loss');
          assert.doesNotMatch((await page.locator(TRAINING).getAttribute('data-series')) ?? '', /\|train/);
          assert.match(page.url(), /steps=off/);
          assert.equal(await page.getByTestId('train-thinned').count(), 0, 'nothing thinned, nothing said');
        },
      );

      await t.test('parameters at a step: θ2^s as safetensors, the run’s own θ2^s', async () => {
        await page.goto(`${base}#/run/${a}`);
        const card = page.getByTestId('run-params');
        await card.scrollIntoViewIfNeeded();
        await page.getByTestId('params-run').selectOption({ label: 'GMT' });
        await initBackend(specA.backend);
        const data = await loadDataset(specA.dataset, specA.datasetOptions);
        const model = buildModel(specA.model, data.inputShape, data.classes);
        try {
          for (const step of [2, T]) {
            await page.getByTestId('params-step').fill(String(step));
            await page.getByTestId('params-step').dispatchEvent('change');
            const [d] = await Promise.all([
              page.waitForEvent('download', { timeout: 120_000 }),
              page.getByTestId('download-params').click(),
            ]);
            assert.equal(d.suggestedFilename(), `A.gmt.target1.step${step}.safetensors`);
            const bytes = await readFile((await d.path())!);
            const file = decodeParams(bytes, d.suggestedFilename()); // valid safetensors
            try {
              assert.equal(file.metadata.step, String(step));
              assert.equal(file.metadata.method, 'gmt');
              assert.deepEqual(Object.keys(file.params).sort(), model.params.map((p) => p.name).sort());
              // the run evaluated exactly these parameters at s
              const ev = await evaluate(model, file.params, data.validation, { limit: specA.evalLimit });
              assert.equal(ev.accuracy, gmtA.summary.valAccuracy[step], `validation accuracy at s = ${step}`);
            } finally {
              disposeParams(file.params);
            }
          }
        } finally {
          data.dispose();
        }
        await page.getByTestId('params-done').waitFor();
        assert.match(await page.getByTestId('params-done').innerText(), /Saved A\.gmt\.target1\.step4/);
        await shot(page, 'run-page-params');
      });

      await t.test(
        'parameter sets ⇄ experiments: the run page links its sets, the set links back',
        async () => {
          await page.goto(`${base}#/run/${b}`);
          const links = page.getByTestId('param-set-links');
          await links.waitFor();
          const source = links.locator('li', { hasText: /^source / });
          assert.match(await source.innerText(), /used as source/);
          await source.getByRole('link').click();
          await page.waitForURL(/#\/library\?paramSet=/);
          const id = decodeURIComponent(/paramSet=([^&]+)/.exec(page.url())![1]!);
          const row = page.locator(`tr[data-param-set="${id}"]`);
          await row.waitFor();
          assert.match((await row.getAttribute('class')) ?? '', /focused/);
          assert.equal(await row.locator('[data-col="made-by"]').innerText(), 'A');
          assert.equal(await row.locator('[data-col="used-by"]').innerText(), '1 experiment');
          const usedBy = page.getByTestId('used-by');
          assert.match(await usedBy.innerText(), /B\s+as its source/);
          await shot(page, 'run-page-library-links');
          await row.locator('[data-col="made-by"] a').click();
          await page.waitForURL(new RegExp(`#/run/${a}`));
          const made = page.getByTestId('param-set-links').locator('li');
          await made.first().waitFor();
          const texts = await made.allInnerTexts();
          assert.ok(
            texts.some((x) => /^source .*made here \(source\)/.test(x)),
            texts.join(' | '),
          );
          assert.ok(
            texts.some((x) => /^target .*made here \(target trained directly\)/.test(x)),
            texts.join(' | '),
          );
        },
      );

      assert.deepEqual(log.errors, [], 'no page errors');
    } finally {
      await (browser as Browser | null)?.close();
      await (host as Host | null)?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
