/**
 * src/main/ipc.ts and security.ts without the Electron binary (test/mocks/electron.ts): only our
 * window's top frame showing our page may call the API; main's validation refuses bad arguments;
 * events go to the window; navigation and new windows stay locked.
 */
import '../mocks/register-electron.js';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { IPC } from '../../src/shared/ipc-channels.js';
import { openTestLab, type TestLab } from '../helpers/lab.js';

const electron = await import('electron');
const mock = electron as unknown as typeof import('../mocks/electron.js');
const { registerLabIpc } = await import('../../src/main/ipc.js');
const { isTrustedSender, lockNavigation } = await import('../../src/main/security.js');

const ORIGIN = 'app://lab';
let lab: TestLab;
let win: InstanceType<typeof mock.BrowserWindow>;
let unregister: () => void;

before(async () => {
  lab = await openTestLab();
  win = new mock.BrowserWindow({}, `${ORIGIN}/index.html`);
  unregister = registerLabIpc(lab.service, () => win as never, ORIGIN);
});
after(async () => {
  unregister();
  await lab.close();
});

const call = (frame: unknown, name: unknown, args: unknown = {}) =>
  mock.ipcMain.invoke(IPC.request, { senderFrame: frame as never }, name, args) as Promise<{
    ok: boolean;
    value?: unknown;
    error?: { code: string; message: string; field?: string };
  }>;

test('the electron import is the mock (the loader hook is in place)', () => {
  assert.ok(mock.ipcMain.handlers.has(IPC.request));
});

test('a request from the window top frame showing the app is answered', async () => {
  const r = await call(win.webContents.mainFrame, 'app.info');
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal((r.value as { host: string }).host, 'headless');
});

test('requests from a subframe, a foreign page, another window or no frame are refused', async () => {
  const foreignFrame = new mock.WebFrameMain(`${ORIGIN}/index.html`); // same URL, but not the top frame
  const other = new mock.BrowserWindow({}, `${ORIGIN}/index.html`);
  for (const frame of [foreignFrame, other.webContents.mainFrame, null]) {
    const r = await call(frame, 'app.info');
    assert.equal(r.ok, false);
    assert.equal(r.error!.code, 'forbidden');
  }
  // The top frame navigated away (or was redirected) to another origin.
  const saved = win.webContents.mainFrame.url;
  for (const url of ['https://evil.example/', 'app://other/index.html', 'file:///etc/passwd']) {
    win.webContents.mainFrame.url = url;
    assert.equal((await call(win.webContents.mainFrame, 'app.info')).error?.code, 'forbidden', url);
  }
  win.webContents.mainFrame.url = saved;
  // A destroyed window has no trusted frame.
  win.destroyed = true;
  assert.equal(isTrustedSender(win.webContents.mainFrame as never, win as never, ORIGIN), false);
  win.destroyed = false;
});

test('main validates names and arguments: unknown requests and bad arguments are refused', async () => {
  const top = win.webContents.mainFrame;
  const notString = await call(top, 42);
  assert.deepEqual([notString.ok, notString.error?.code], [false, 'invalid']);
  const unknown = await call(top, 'fs.readFile', { path: '/etc/passwd' });
  assert.equal(unknown.ok, false);
  assert.notEqual(unknown.error?.code, 'internal');
  const badArgs = await call(top, 'experiments.get', { id: 7 });
  assert.deepEqual([badArgs.ok, badArgs.error?.code], [false, 'invalid']);
  const badSpec = await call(top, 'experiments.create', { spec: { dataset: 'nope' }, name: 'x' });
  assert.deepEqual([badSpec.ok, badSpec.error?.code], [false, 'invalid']);
  // A well-formed request for something missing is not-found, with its fields intact.
  const missing = await call(top, 'experiments.get', { id: 'no-such-id' });
  assert.deepEqual([missing.ok, missing.error?.code], [false, 'not-found']);
});

test('lab events are sent to the window on the event channel, not after it is destroyed', () => {
  // A stand-in service whose events the test emits.
  const listeners = new Set<(e: unknown) => void>();
  const service = {
    request: async () => null,
    onEvent: (l: (e: unknown) => void) => (listeners.add(l), () => listeners.delete(l)),
  };
  const w = new mock.BrowserWindow({}, `${ORIGIN}/index.html`);
  unregister();
  const off = registerLabIpc(service as never, () => w as never, ORIGIN);
  try {
    const ev = { type: 'jobs.changed', jobs: [] };
    for (const l of listeners) l(ev);
    assert.deepEqual(w.webContents.sent, [{ channel: IPC.event, args: [ev] }]);
    w.destroyed = true;
    for (const l of listeners) l(ev);
    assert.equal(w.webContents.sent.length, 1);
  } finally {
    off();
    assert.equal(listeners.size, 0, 'unregistering unsubscribes from the service');
    unregister = registerLabIpc(lab.service, () => win as never, ORIGIN);
  }
});

test('unregistering removes the handler', async () => {
  const lab2 = await openTestLab();
  const w = new mock.BrowserWindow({}, `${ORIGIN}/index.html`);
  unregister();
  const off = registerLabIpc(lab2.service, () => w as never, ORIGIN);
  off();
  assert.equal(mock.ipcMain.handlers.has(IPC.request), false);
  await lab2.close();
  unregister = registerLabIpc(lab.service, () => win as never, ORIGIN);
});

test('navigation away from the app, webviews and new windows are refused; https links open outside', () => {
  const wc = new mock.WebContents(`${ORIGIN}/index.html`);
  lockNavigation(wc as never, ORIGIN);
  assert.equal(wc.navigate('will-navigate', 'https://evil.example/'), true);
  assert.equal(wc.navigate('will-redirect', 'file:///etc/passwd'), true);
  assert.equal(wc.navigate('will-navigate', `${ORIGIN}/index.html#/runs`), false);
  assert.equal(wc.navigate('will-attach-webview', ''), true);
  assert.deepEqual(wc.windowOpenHandler!({ url: 'https://arxiv.org/abs/2305.14122' }), { action: 'deny' });
  assert.deepEqual(wc.windowOpenHandler!({ url: 'javascript:alert(1)' }), { action: 'deny' });
  assert.deepEqual(mock.shell.opened, ['https://arxiv.org/abs/2305.14122']);
});
