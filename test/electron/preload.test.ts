/**
 * src/preload/index.ts under the Electron mock: it exposes exactly `window.lab` with the LabApi
 * (transport, request, onEvent, and the lab-host setting's get/set/test) over the contract's IPC
 * channels, errors keep their code and field, and a failing event listener does not stop the others.
 */
import '../mocks/register-electron.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IPC } from '../../src/shared/ipc-channels.js';
import type { LabApi, LabEvent } from '../../src/shared/lab-api.js';

const mock = (await import('electron')) as unknown as typeof import('../mocks/electron.js');
const calls: unknown[][] = [];
mock.ipcMain.handle(IPC.request, (_e, name, args) => {
  calls.push([name, args]);
  if (name === 'boom')
    return { ok: false, error: { code: 'invalid', message: 'bad lr', field: 'source.train.lr' } };
  return { ok: true, value: { echoed: args } };
});
await import('../../src/preload/index.js');

test('the preload exposes exactly window.lab, with the LabApi and nothing else', () => {
  assert.deepEqual([...mock.contextBridge.exposed.keys()], ['lab']);
  const lab = mock.contextBridge.exposed.get('lab') as LabApi;
  assert.deepEqual(Object.keys(lab).sort(), ['onEvent', 'remoteHost', 'request', 'transport']);
  assert.equal(lab.transport, 'electron');
  // No Electron object leaks through: no ipcRenderer, no send/invoke/on.
  for (const [k, v] of Object.entries(lab))
    assert.ok(v === 'electron' || typeof v === 'function' || k === 'remoteHost', k);
  // The lab-host setting: three purpose-built functions, nothing else.
  assert.deepEqual(Object.keys(lab.remoteHost!).sort(), ['get', 'set', 'test']);
  for (const v of Object.values(lab.remoteHost!)) assert.equal(typeof v, 'function');
});

test('the lab-host functions go over their own channels, with their argument only, errors intact', async () => {
  const lab = mock.contextBridge.exposed.get('lab') as LabApi;
  const seen: [string, unknown[]][] = [];
  for (const channel of [IPC.remoteHostGet, IPC.remoteHostSet, IPC.remoteHostTest])
    mock.ipcMain.handle(channel, (_e, ...args) => {
      seen.push([channel, args]);
      if (channel === IPC.remoteHostSet)
        return { ok: false, error: { code: 'invalid', message: 'not http', field: 'url' } };
      return { ok: true, value: { channel } };
    });
  try {
    assert.deepEqual(await lab.remoteHost!.get(), { channel: IPC.remoteHostGet });
    assert.deepEqual(await lab.remoteHost!.test({ url: 'http://h:1', token: 't' }), {
      channel: IPC.remoteHostTest,
    });
    await assert.rejects(lab.remoteHost!.set({ url: 'file:///x' }), (e: { error: { field?: string } }) => {
      assert.equal(e.error.field, 'url');
      return true;
    });
    assert.deepEqual(seen, [
      [IPC.remoteHostGet, []],
      [IPC.remoteHostTest, [{ url: 'http://h:1', token: 't' }]],
      [IPC.remoteHostSet, [{ url: 'file:///x' }]],
    ]);
  } finally {
    for (const channel of [IPC.remoteHostGet, IPC.remoteHostSet, IPC.remoteHostTest])
      mock.ipcMain.removeHandler(channel);
  }
});

test('request goes over the request channel and resolves with the value', async () => {
  const lab = mock.contextBridge.exposed.get('lab') as LabApi;
  const v = await lab.request('experiments.get', { id: 'abc' });
  assert.deepEqual(v, { echoed: { id: 'abc' } });
  assert.deepEqual(calls.at(-1), ['experiments.get', { id: 'abc' }]);
});

test('an error answer rejects with a LabRequestError-shaped object keeping code and field', async () => {
  const lab = mock.contextBridge.exposed.get('lab') as LabApi;
  await assert.rejects(
    lab.request('boom' as never, {} as never),
    (e: { name: string; message: string; error: { code: string; field?: string } }) => {
      assert.equal(e.name, 'LabRequestError');
      assert.equal(e.message, 'bad lr');
      assert.deepEqual(e.error, { code: 'invalid', message: 'bad lr', field: 'source.train.lr' });
      return true;
    },
  );
});

test('events reach every listener, a throwing listener does not stop the others; unsubscribe works', () => {
  const lab = mock.contextBridge.exposed.get('lab') as LabApi;
  const got: LabEvent[] = [];
  const origError = console.error;
  const errors: unknown[] = [];
  console.error = (...a: unknown[]) => errors.push(a);
  try {
    const offBad = lab.onEvent(() => {
      throw new Error('listener bug');
    });
    const off = lab.onEvent((e) => got.push(e));
    const ev = { type: 'jobs.changed', jobs: [] } as unknown as LabEvent;
    mock.ipcRenderer.deliver(IPC.event, ev);
    assert.deepEqual(got, [ev]);
    assert.equal(errors.length, 1);
    off();
    offBad();
    mock.ipcRenderer.deliver(IPC.event, ev);
    assert.equal(got.length, 1);
  } finally {
    console.error = origError;
  }
  // Only the event channel is listened to.
  assert.deepEqual(mock.ipcRenderer.eventNames(), [IPC.event]);
});
