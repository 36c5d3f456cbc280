/**
 * Settings → Lab host in real Chromium against `serve`: in the browser the section says the page is
 * already connected to its host (and offers no form); with a desktop-like `window.lab` (a stand-in
 * for the preload's remoteHost functions) the form shows the setting, the test result (the host's
 * app.info or the error) and main's field errors, and says when the token is kept as plain text.
 * No CSP violations, no page errors. Screenshots in test-results/screenshots/.
 *
 *   node --import tsx --test test/e2e/settings.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
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

/** What the desktop preload would expose, answering from the page itself. */
const DESKTOP_STAND_IN = `
  window.__calls = [];
  const info = { apiVersion: 1, appVersion: '9.9.9', host: 'headless', dataDir: '/srv/lab', backend: null,
                 concurrency: 4, queue: 'redis://redis-host:6379', schemaVersion: 1 };
  window.lab = {
    transport: 'electron',
    request: async (name) => (name === 'app.info' ? info : []),
    onEvent: () => () => {},
    remoteHost: {
      get: async () => ({ url: 'http://gpu-host:8080', hasToken: true, tokenStorage: 'plaintext', connection: 'unauthorized' }),
      test: async (input) => {
        window.__calls.push(['test', input]);
        return input.token === 'good' ? { ok: true, info } : { ok: false, error: 'the lab host refused the token (Settings → Lab host)' };
      },
      set: async (input) => {
        window.__calls.push(['set', input]);
        throw { name: 'LabRequestError', message: 'the lab host’s address must be http, https, ws or wss, not file:',
                error: { code: 'invalid', message: 'the lab host’s address must be http, https, ws or wss, not file:', field: 'url' } };
      },
    },
  };
`;

test(
  'Settings → Lab host: the browser page is on its host; the desktop form tests, saves and explains',
  { skip: haveChromium ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`, timeout: 300_000 },
  async () => {
    buildRenderer();
    await mkdir(SHOTS, { recursive: true });
    const dataDir = await mkdtemp(join(tmpdir(), 'tlab-e2e-settings-'));
    const host = await startHost(dataDir);
    const browser = await launchChromium();
    try {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await ctx.addInitScript(INSTRUMENT);
      const log: PageLog = { errors: [] };
      const page = await openPage(ctx, log);
      await page.goto(host.url + '#/settings');
      const said = page.getByTestId('lab-host-browser');
      await said.waitFor();
      const text = await said.innerText();
      assert.match(text, /already connected to its lab host/);
      assert.ok(text.includes(new URL(host.url).host), text);
      await page.getByText(dataDir).waitFor();
      assert.equal(await page.locator('#host-url').count(), 0, 'no form in the browser');
      await shot(page, '60-settings-browser');
      assert.deepEqual(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), []);

      // The desktop's view of the same page, with the preload's functions stood in.
      const desk = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await desk.addInitScript(INSTRUMENT);
      await desk.addInitScript(DESKTOP_STAND_IN);
      const dlog: PageLog = { errors: [] };
      const dp = await openPage(desk, dlog);
      await dp.goto(host.url + '#/settings');
      const stateBox = dp.getByTestId('lab-host-state');
      await stateBox.waitFor();
      assert.match(await stateBox.innerText(), /gpu-host:8080.*refused the token/s);
      await dp.getByTestId('token-plaintext').waitFor();
      assert.equal(await dp.locator('#host-url').inputValue(), 'http://gpu-host:8080');

      await dp.locator('#host-token').fill('bad');
      await dp.getByRole('button', { name: 'Test connection' }).click();
      assert.match(await dp.getByTestId('host-test').innerText(), /Cannot use this host.*refused the token/s);
      await dp.locator('#host-token').fill('good');
      await dp.getByRole('button', { name: 'Test connection' }).click();
      await dp.getByText('Connected.').waitFor();
      const ok = await dp.getByTestId('host-test').innerText();
      assert.match(ok, /9\.9\.9.*\/srv\/lab.*BullMQ at redis:\/\/redis-host:6379/s);
      await shot(dp, '61-settings-desktop-tested');

      await dp.locator('#host-url').fill('file:///etc/passwd');
      await dp.getByRole('button', { name: 'Save and use' }).click();
      await dp.locator('.field-error').waitFor();
      assert.match(await dp.locator('.field-error').innerText(), /http, https, ws or wss/);
      assert.deepEqual(await dp.evaluate(() => (window as unknown as { __calls: unknown[] }).__calls), [
        ['test', { url: 'http://gpu-host:8080', token: 'bad' }],
        ['test', { url: 'http://gpu-host:8080', token: 'good' }],
        ['set', { url: 'file:///etc/passwd', token: 'good' }],
      ]);
      await shot(dp, '62-settings-desktop-refused');
      assert.deepEqual(await dp.evaluate(() => (window as unknown as { __csp: string[] }).__csp), []);
      assert.deepEqual([...log.errors, ...dlog.errors], []);
    } finally {
      await browser.close();
      await host.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  },
);
