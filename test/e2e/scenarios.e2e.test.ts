/**
 * The issue-11 scenarios through the wizard in real Chromium against `serve`: the pre-trained
 * scenario with class subsets (Fashion-MNIST 0–4 → 5–9), its pre-training priced in the cost
 * panel, run to the end with its pre-trainings as rows of the run table; and ResNet-20 with CIFAR
 * augmentation and BatchNorm re-estimation batches, checked in the spec the wizard writes.
 * Screenshots go to test-results/screenshots/ (tests never write tracked files).
 *
 *   node --import tsx --test test/e2e/scenarios.e2e.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { estimateCost, type ExperimentSpec } from '../../src/shared/domain/index.js';
import {
  buildRenderer,
  CHROMIUM,
  haveChromium,
  INSTRUMENT,
  launchChromium,
  next,
  openPage,
  shot,
  SHOTS,
  startHost,
  type Host,
  type PageLog,
} from '../helpers/e2e.js';

const RUN_TIMEOUT = 120_000;

/** The wizard from the quick preset (bundled data) to its dataset step with samples shown. */
async function openWizard(page: Page, base: string): Promise<void> {
  await page.goto(`${base}#/new?preset=quick`);
  await page.locator('.wizard[data-step="dataset"]').waitFor();
  await page.locator('[data-testid="samples"] img').first().waitFor({ timeout: 60_000 });
}

async function reviewSpec(page: Page): Promise<ExperimentSpec> {
  return JSON.parse(await page.getByTestId('spec-json').innerText()) as ExperimentSpec;
}

async function waitForEnd(page: Page): Promise<number> {
  const t0 = Date.now();
  const status = page.locator('.page-head [data-status]').first();
  for (;;) {
    const s = await status.getAttribute('data-status');
    if (s === 'done') return (Date.now() - t0) / 1000;
    if (s === 'failed' || s === 'cancelled' || s === 'interrupted')
      throw new Error(`the experiment ended ${s}:\n${await page.getByTestId('log').innerText()}`);
    if (Date.now() - t0 > RUN_TIMEOUT) throw new Error(`not finished in ${RUN_TIMEOUT / 1000} s (${s})`);
    await page.waitForTimeout(250);
  }
}

test(
  'the scenarios through the wizard in Chromium',
  {
    timeout: 5 * 60_000,
    skip: haveChromium ? false : `no Chromium at ${CHROMIUM} (install Debian's chromium or set LAB_CHROMIUM)`,
  },
  async (t) => {
    await mkdir(SHOTS, { recursive: true });
    buildRenderer();
    const dir = await mkdtemp(join(tmpdir(), 'lab-e2e-scenarios-'));
    const log: PageLog = { errors: [] };
    let host: Host | null = null;
    let browser: Browser | null = null;
    try {
      host = await startHost(dir);
      browser = await launchChromium();
      const ctx = await browser.newContext({ viewport: { width: 1440, height: 1000 }, colorScheme: 'light' });
      await ctx.addInitScript(INSTRUMENT);
      const page = await openPage(ctx, log);
      const base = host.url;

      await t.test('pre-trained on Fashion-MNIST 0–4, fine-tuned on 5–9: priced, run, its rows', async () => {
        await openWizard(page, base);
        await page.locator('#ds-classes').fill('upper-half');
        await page.locator('#ds-limit').fill('500');
        await page.locator('#ds-eval').fill('200');
        await next(page, 'model');
        await page.locator('#mlp-hidden').fill('32');
        await next(page, 'source');
        await page.locator('#src-epochs').fill('1');
        await page.getByTestId('pretrain').check();
        await page.locator('#pre-classes').fill('0-4');
        await page.locator('#pre-epochs').fill('1');
        await page.locator('#pre-batch').fill('100');
        await page.locator('#pre-lr').fill('0.05');
        await shot(page, 'scenario-01-pretrain-source');
        await next(page, 'targets');
        await next(page, 'transfer');
        await page.locator('#tr-T').fill('2');

        // The cost panel prices the pre-training: 500 images of classes 0–4 in batches of 100 for
        // one epoch, for the source and the target; the total includes it.
        const pretrainCost = page.getByTestId('cost-pretrain');
        await page.waitForFunction(
          () =>
            /^\d/.test(document.querySelector('[data-testid="cost-pretrain"]')?.textContent?.trim() ?? ''),
          undefined,
          { timeout: 30_000 },
        );
        assert.equal((await pretrainCost.innerText()).trim(), '10');
        const methods = ['naive', 'oracle', 'gmt', 'fgmt'];
        const want = estimateCost({
          trainExamples: 500,
          epochs: 1,
          batchSize: 128,
          T: 2,
          gradBatches: 1,
          methods,
          targets: 1,
          pretrain: { trainExamples: 500, epochs: 1, batchSize: 100 },
        });
        assert.equal(want.pretrainSteps, 10);
        assert.equal((await page.getByTestId('cost-total').innerText()).trim(), String(want.total));
        assert.match(await page.getByTestId('cost').innerText(), /Pre-training: 500 images of its classes/);
        await shot(page, 'scenario-02-pretrain-cost');

        await next(page, 'analyses');
        await next(page, 'review');
        await page.locator('#rv-name').fill('Pre-trained 0–4 → 5–9 (e2e)');
        const spec = await reviewSpec(page);
        assert.deepEqual(spec.dataset, { builtin: 'fashion-mnist-mini', classes: 'upper-half' });
        assert.equal(spec.pretrain?.classes, '0-4');
        assert.equal(spec.pretrain?.head, 'reinit');
        assert.deepEqual(
          [spec.pretrain?.train.epochs, spec.pretrain?.train.batchSize, spec.pretrain?.train.lr],
          [1, 100, 0.05],
        );
        assert.deepEqual([...spec.transfer.methods].sort(), [...methods].sort());
        await shot(page, 'scenario-03-pretrain-review');

        await page.getByTestId('run-experiment').click();
        await page.waitForURL(/#\/run\//, { timeout: 30_000 });
        const seconds = await waitForEnd(page);
        console.log(`# the tiny pre-trained experiment finished in ${seconds.toFixed(1)} s`);

        const rows = page.locator('table.data tbody tr[data-phase]');
        await page.locator('tr[data-phase="pretrain:0"][data-status="done"]').waitFor();
        const phases = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-phase')));
        assert.deepEqual(
          phases.slice(0, 3),
          ['pretrain:source', 'pretrain:0', 'source'],
          'pre-trainings first',
        );
        for (const [phase, label] of [
          ['pretrain:source', 'Pre-training source (seed 101)'],
          ['pretrain:0', 'Pre-training target 1 (seed 102)'],
        ]) {
          const row = page.locator(`tr[data-phase="${phase}"]`);
          assert.equal(await row.getAttribute('data-status'), 'done');
          const text = await row.innerText();
          assert.ok(text.includes(label), text);
          assert.match(
            await row.getByTestId('pretrain-what').innerText(),
            /fashion-mnist-mini, classes 0-4 · 1 epoch · head reinit/,
          );
          const cells = await row.locator('td.num').allInnerTexts();
          assert.match(cells[0]!, /%/, `${phase}: its accuracy on the pre-training classes`);
          assert.notEqual(cells[cells.length - 1], 'reused', `${phase} was trained in this run`);
        }
        await shot(page, 'scenario-04-pretrain-run');
      });

      await t.test('ResNet-20 with augmentation and BN re-estimation batches: the spec', async () => {
        await openWizard(page, base);
        await next(page, 'model');
        await page.locator('input[name="arch"][value="resnet20"]').check();
        await page.locator('#resnet-width').fill('2');
        await next(page, 'source');
        await page.getByTestId('augment').check();
        await next(page, 'targets');
        await next(page, 'transfer');
        await page.locator('#tr-bn').fill('4');
        await page.getByTestId('cost-total').waitFor();
        assert.equal(await page.getByTestId('cost-pretrain').count(), 0, 'no pre-training, no such cost');
        await shot(page, 'scenario-05-resnet-transfer');
        await next(page, 'analyses');
        await next(page, 'review');
        const spec = await reviewSpec(page);
        assert.deepEqual(spec.model, { arch: 'resnet20', width: 2 });
        assert.deepEqual(spec.source.train.augment, { pad: 4, flip: true });
        assert.equal(spec.transfer.bnBatches, 4);
        assert.equal(spec.pretrain, undefined);
        await shot(page, 'scenario-06-resnet-review');
      });

      await t.test('no script errors or CSP violations', async () => {
        assert.deepEqual(await page.evaluate('window.__csp'), []);
        const errors = log.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|favicon/.test(e));
        assert.deepEqual(errors, []);
      });
    } finally {
      await browser?.close();
      await (host as Host | null)?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
