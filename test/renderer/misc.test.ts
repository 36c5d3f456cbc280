import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  base64ToBytes,
  bytesToBase64,
  safeFileName,
  samplePixelsToRgba,
} from '../../src/renderer/src/lib/base64.js';
import { toUiError } from '../../src/renderer/src/lib/errors.js';
import { LabRequestError } from '../../src/shared/lab-api.js';
import { invalid } from '../../src/shared/domain/index.js';

test('base64 round-trips large binary data the same way Node does', () => {
  const bytes = new Uint8Array(100_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 255;
  const b64 = bytesToBase64(bytes);
  assert.equal(b64, Buffer.from(bytes).toString('base64'));
  assert.deepEqual(base64ToBytes(b64), bytes);
  assert.equal(bytesToBase64(new Uint8Array(0)), '');
});

test('samples become RGBA: grey copies the channel, colour keeps it', () => {
  assert.deepEqual(
    [...samplePixelsToRgba(new Uint8Array([10, 20]), 1, 2, 1)],
    [10, 10, 10, 255, 20, 20, 20, 255],
  );
  assert.deepEqual([...samplePixelsToRgba(new Uint8Array([1, 2, 3]), 1, 1, 3)], [1, 2, 3, 255]);
  assert.throws(() => samplePixelsToRgba(new Uint8Array(3), 2, 2, 1), /expected 4/);
});

test('file names lose separators and reserved characters', () => {
  assert.equal(safeFileName('a/b:c*?.zip'), 'a-b-c-.zip');
  assert.equal(safeFileName('  ..  '), 'export');
});

test('errors: LabRequestError, plain LabError objects, Electron-wrapped errors, spec fields', () => {
  assert.deepEqual(
    toUiError(new LabRequestError({ code: 'invalid', message: 'bad T', field: 'transfer.T' })),
    { message: 'bad T', field: 'transfer.T', code: 'invalid' },
  );
  assert.deepEqual(toUiError({ code: 'not-found', message: 'no such experiment' }), {
    message: 'no such experiment',
    field: undefined,
    code: 'not-found',
  });
  // The field comes with the error; the UI never reads it out of the message text.
  const e = toUiError(invalid('spec field "source.train.lr": must be > 0, got 0', 'spec.source.train.lr'));
  assert.deepEqual(e, {
    message: 'spec field "source.train.lr": must be > 0, got 0',
    field: 'spec.source.train.lr',
    code: 'invalid',
  });
  assert.equal(toUiError(new Error('spec field "source.train.lr": must be > 0')).field, undefined);
  assert.equal(toUiError('plain').message, 'plain');
  assert.match(toUiError(new Error('')).message, /no reason/);
});
