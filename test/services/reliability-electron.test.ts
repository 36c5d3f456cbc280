/**
 * Issue 8, item 10, checked without an Electron binary: the packaging config flips the fuses and
 * targets the three platforms, external links go only to allowed https hosts, and a packaged
 * window has no DevTools.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { externalLinkAllowed } from '../../src/main/external-links.js';

const root = new URL('../../', import.meta.url);

test('electron-builder.yml sets the fuses and builds AppImage/deb, dmg and nsis', () => {
  const yml = readFileSync(new URL('electron-builder.yml', root), 'utf8');
  const fuses = yml.slice(yml.indexOf('electronFuses:'));
  for (const [fuse, value] of Object.entries({
    runAsNode: false,
    enableCookieEncryption: true,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    grantFileProtocolExtraPrivileges: false,
  }))
    assert.match(fuses, new RegExp(`\\n  ${fuse}: ${value}\\n`), fuse);
  assert.match(yml, /linux:\n {2}target: \[AppImage, deb\]/);
  assert.match(yml, /mac:\n {2}target: \[dmg\]/);
  assert.match(yml, /win:\n {2}target: \[nsis\]/);
});

test('only https links to the hosts the app links to open outside', () => {
  assert.ok(externalLinkAllowed('https://arxiv.org/abs/2305.14122'));
  assert.ok(externalLinkAllowed('https://github.com/huggingface/safetensors'));
  for (const bad of [
    'http://arxiv.org/abs/1',
    'https://evil.example/',
    'https://arxiv.org.evil.example/',
    'https://user:pw@github.com/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'smb://share/x',
    'not a url',
  ])
    assert.equal(externalLinkAllowed(bad), false, bad);
  const security = readFileSync(new URL('src/main/security.ts', root), 'utf8');
  assert.match(security, /if \(externalLinkAllowed\(url\)\) void shell\.openExternal\(url\)/);
  assert.equal((security.match(/openExternal/g) ?? []).length, 1, 'no other call');
});

test('a packaged window has no DevTools', () => {
  const win = readFileSync(new URL('src/main/window.ts', root), 'utf8');
  assert.match(win, /devTools: !app\.isPackaged/);
});
