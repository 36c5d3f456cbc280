/**
 * Settings → Lab host, in main (src/main/ipc.ts, lab-router.ts, remote-host.ts) under the Electron
 * mock, against a real headless host in its own process: once set, the window's API calls and
 * events go to that host with its token (and nothing reaches it without the right one); main
 * validates the address and token, keeps the token encrypted where a keychain exists (plain, in a
 * file only the user reads, where none does) and never hands it back; the sender check holds.
 */
import '../mocks/register-electron.js';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { IPC } from '../../src/shared/ipc-channels.js';
import type { AppInfo, LabEvent, RemoteHostState, RemoteHostTest } from '../../src/shared/lab-api.js';
import { openTestLab, tempDir, tinySpec, waitUntil, type TestLab } from '../helpers/lab.js';
import { spawnHost } from '../helpers/spawn-host.js';

const electron = await import('electron');
const mock = electron as unknown as typeof import('../mocks/electron.js');
const { registerLabIpc, registerRemoteHostIpc } = await import('../../src/main/ipc.js');
const { LabRouter } = await import('../../src/main/lab-router.js');
const { electronVault, RemoteHostSetting } = await import('../../src/main/remote-host.js');

const ORIGIN = 'app://lab';

interface Answer<T = unknown> {
  ok: boolean;
  value?: T;
  error?: { code: string; message: string; field?: string };
}

let local: TestLab;
let temp: Awaited<ReturnType<typeof tempDir>>;
let host: { child: ChildProcess; url: string; token: string; dataDir: string };
let win: InstanceType<typeof mock.BrowserWindow>;
let settingFile: string;
let router: InstanceType<typeof LabRouter>;
let unregister: () => void = () => {};

/** main as it starts: the router over the local lab, the API and the lab-host handlers */
async function startMain(): Promise<void> {
  unregister();
  router?.close();
  router = new LabRouter(local.service);
  const offApi = registerLabIpc(router, () => win as never, ORIGIN);
  const offHost = await registerRemoteHostIpc({
    router,
    setting: new RemoteHostSetting(settingFile, electronVault()),
    window: () => win as never,
    appOrigin: ORIGIN,
  });
  unregister = () => {
    offApi();
    offHost();
  };
}

const invoke = <T>(channel: string, frame: unknown, ...args: unknown[]) =>
  mock.ipcMain.invoke(channel, { senderFrame: frame as never }, ...args) as Promise<Answer<T>>;
const call = <T>(name: string, args: unknown = {}) =>
  invoke<T>(IPC.request, win.webContents.mainFrame, name, args);
const hostGet = () => invoke<RemoteHostState>(IPC.remoteHostGet, win.webContents.mainFrame);
const hostSet = (input: unknown, frame: unknown = win.webContents.mainFrame) =>
  invoke<RemoteHostState>(IPC.remoteHostSet, frame, input);
const hostTest = (input: unknown) =>
  invoke<RemoteHostTest>(IPC.remoteHostTest, win.webContents.mainFrame, input);

before(async () => {
  temp = await tempDir('tlab-remote-host-');
  settingFile = join(temp.dir, 'remote-host.json');
  local = await openTestLab();
  const dataDir = join(temp.dir, 'host');
  const { child, url, token } = await spawnHost(dataDir);
  host = { child, url, token, dataDir };
  win = new mock.BrowserWindow({}, `${ORIGIN}/index.html`);
  await startMain();
});

after(async () => {
  unregister();
  router.close();
  await local.close();
  const exited = new Promise((r) => host.child.once('exit', r));
  host.child.kill('SIGTERM');
  await exited;
  await temp.cleanup();
});

const origin = (): string => new URL(host.url).origin;

test('the API goes to a remote serve host with its token; with a wrong one nothing reaches it', async () => {
  assert.deepEqual((await hostGet()).value, {
    url: null,
    hasToken: false,
    tokenStorage: null,
    connection: 'local',
  });
  assert.equal((await call<AppInfo>('app.info')).value!.dataDir, local.dataDir, 'this app’s lab at first');

  // The test button: the values in the form, once, without saving.
  const wrong = (await hostTest({ url: origin(), token: 'not-the-token' })).value!;
  assert.deepEqual(wrong, { ok: false, error: 'the lab host refused the token (Settings → Lab host)' });
  const right = (await hostTest({ url: host.url })).value!; // the address serve printed, ?token= and all
  assert.equal(right.ok, true, JSON.stringify(right));
  assert.equal((right as { info: AppInfo }).info.dataDir, host.dataDir);
  await assert.rejects(stat(settingFile), /ENOENT/, 'testing saves nothing');

  // Saved with a wrong token: calls are refused, and nothing is created on the host.
  const refused = await hostSet({ url: origin(), token: 'not-the-token' });
  assert.equal(refused.ok, true);
  const create = await call('experiments.create', { spec: tinySpec(), name: 'refused' });
  assert.deepEqual([create.ok, create.error?.code], [false, 'forbidden']);
  assert.match(create.error!.message, /refused the token/);
  assert.equal((await hostGet()).value!.connection, 'unauthorized');

  // The right token (from the printed address): calls and events go to the host.
  const set = (await hostSet({ url: host.url })).value!;
  assert.deepEqual(
    { ...set, connection: undefined },
    { url: origin(), hasToken: true, tokenStorage: 'encrypted', connection: undefined },
  );
  assert.equal((await call<AppInfo>('app.info')).value!.dataDir, host.dataDir);
  assert.equal((await hostGet()).value!.connection, 'open');
  const list = await call<{ total: number }>('experiments.list', {});
  assert.equal(list.value!.total, 0, 'the refused create never reached the host');
  const sentBefore = win.webContents.sent.length;
  const made = await call<{ id: string }>('experiments.create', { spec: tinySpec(), name: 'on the host' });
  assert.equal(made.ok, true, JSON.stringify(made));
  const id = made.value!.id;
  assert.equal(local.store.getExperiment(id), null, 'not in this app’s lab');
  await waitUntil(
    () =>
      win.webContents.sent
        .slice(sentBefore)
        .some(
          (s) =>
            s.channel === IPC.event &&
            (s.args[0] as LabEvent).type === 'experiment.updated' &&
            (s.args[0] as Extract<LabEvent, { type: 'experiment.updated' }>).experiment.id === id,
        ),
    'the host’s event to reach the window',
  );
  assert.equal((await call<{ cancelled: boolean }>('experiments.cancel', { id })).ok, true);
  // Main validates before forwarding, as for its own lab.
  const bad = await call('experiments.get', { id: 7 });
  assert.deepEqual([bad.ok, bad.error?.code], [false, 'invalid']);

  // The token at rest: encrypted, in a file only the user reads; never handed back.
  const saved = await readFile(settingFile, 'utf8');
  assert.ok(!saved.includes(host.token), 'the token is not in the file as plain text');
  assert.equal((await stat(settingFile)).mode & 0o777, 0o600);
  assert.ok(!JSON.stringify((await hostGet()).value).includes(host.token));

  // Main restarts: the saved host is used from the start.
  await startMain();
  assert.equal((await call<AppInfo>('app.info')).value!.dataDir, host.dataDir);

  // Back to this app's lab.
  assert.equal((await hostSet(null)).value!.connection, 'local');
  assert.equal((await call<AppInfo>('app.info')).value!.dataDir, local.dataDir);
  await assert.rejects(stat(settingFile), /ENOENT/);
});

test('main refuses addresses that are not http, https, ws or wss, missing tokens, and other frames', async () => {
  for (const url of [
    'file:///etc/passwd',
    'javascript:alert(1)',
    'ftp://gpu-host/',
    'http://user:pw@gpu-host:8080',
    'gpu-host:8080 no',
    '',
  ]) {
    const r = await hostSet({ url, token: 't' });
    assert.deepEqual([r.ok, r.error?.code, r.error?.field], [false, 'invalid', 'url'], url);
  }
  const noToken = await hostSet({ url: 'http://gpu-host:8080' });
  assert.deepEqual([noToken.ok, noToken.error?.field], [false, 'token']);
  for (const input of [{ url: origin(), token: 't', extra: 1 }, { url: 42 }, 'http://x', undefined]) {
    const r = await hostSet(input);
    assert.deepEqual([r.ok, r.error?.code], [false, 'invalid'], JSON.stringify(input));
  }
  // ws and wss name the same host as http and https.
  const ws = await hostSet({ url: `ws://${new URL(host.url).host}/api`, token: host.token });
  assert.equal(ws.value!.url, origin());
  assert.equal((await call<AppInfo>('app.info')).value!.dataDir, host.dataDir);
  await hostSet(null);

  const foreign = new mock.WebFrameMain(`${ORIGIN}/index.html`);
  for (const channel of [IPC.remoteHostGet, IPC.remoteHostSet, IPC.remoteHostTest]) {
    const r = await invoke(channel, foreign, { url: host.url });
    assert.deepEqual([r.ok, r.error?.code], [false, 'forbidden'], channel);
  }
  await assert.rejects(stat(settingFile), /ENOENT/, 'a foreign frame changed nothing');
});

test('without a keychain the token is kept as plain text in a file only the user reads, and the page is told', async () => {
  for (const [available, backend] of [
    [false, 'gnome_libsecret'],
    [true, 'basic_text'],
  ] as const) {
    mock.safeStorage.available = available;
    mock.safeStorage.backend = backend;
    try {
      const state = (await hostSet({ url: host.url })).value!;
      assert.equal(
        state.tokenStorage,
        process.platform === 'linux' || !available ? 'plaintext' : 'encrypted',
      );
      assert.equal((await stat(settingFile)).mode & 0o777, 0o600);
      if (state.tokenStorage === 'plaintext')
        assert.ok((await readFile(settingFile, 'utf8')).includes(host.token));
      await startMain();
      assert.equal(
        (await call<AppInfo>('app.info')).value!.dataDir,
        host.dataDir,
        'read back after a restart',
      );
    } finally {
      mock.safeStorage.available = true;
      mock.safeStorage.backend = 'gnome_libsecret';
      await hostSet(null);
    }
  }
});
