/**
 * src/main/save-file.ts without the Electron binary: `downloads.save` in the desktop asks where to
 * save with a dialog attached to the lab window, offers the Downloads folder and the file's own
 * name (never a path the service could sneak in), writes the bytes, and a cancel writes nothing.
 */
import '../mocks/register-electron.js';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/lab.js';

const electron = await import('electron');
const mock = electron as unknown as typeof import('../mocks/electron.js');
const { dialogSaveFile } = await import('../../src/main/save-file.js');

test('the save dialog offers Downloads/<name>, writes where the user picked, and a cancel saves nothing', async () => {
  const tmp = await tempDir('tlab-save-');
  try {
    mock.app.setPath('downloads', '/home/u/Downloads');
    const win = new mock.BrowserWindow({}, 'app://lab/index.html');
    const save = dialogSaveFile(() => win as never);
    const picked = join(tmp.dir, 'chosen.safetensors');
    mock.dialog.nextSavePath = picked;
    assert.equal(await save('../../etc/x.gmt.step3.safetensors', new Uint8Array([1, 2, 3])), picked);
    assert.deepEqual([...(await readFile(picked))], [1, 2, 3]);
    const shown = mock.dialog.saveDialogs.at(-1)!;
    assert.equal(shown.parent, win, 'attached to the lab window');
    assert.equal(shown.defaultPath, '/home/u/Downloads/x.gmt.step3.safetensors');
    mock.dialog.nextSavePath = null;
    assert.equal(await save('y.safetensors', new Uint8Array([9])), null);
  } finally {
    await tmp.cleanup();
  }
});
