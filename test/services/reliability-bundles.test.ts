/**
 * Issue 8, item 9: a bundle whose content was edited after export is refused, naming the entry;
 * the manifest's hashes are signed with the exporting lab's key, so editing the hashes too is caught.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSpec } from '../../src/shared/domain/index.js';
import { exportBundle } from '../../src/services/bundles/export.js';
import { importBundle } from '../../src/services/bundles/import.js';
import { readZip, writeZip } from '../../src/services/bundles/zip.js';
import { LabStore } from '../../src/services/store/index.js';
import { sha256Hex } from '../../src/services/store/weights.js';
import { tempDir, tinySpec } from '../helpers/lab.js';

async function rezip(zip: Buffer, edit: (entries: Map<string, Buffer>) => void): Promise<Buffer> {
  const entries = await readZip(zip, () => null);
  edit(entries);
  return writeZip(
    [...entries].filter(([n]) => !n.endsWith('/')).map(([name, data]) => ({ name, data })),
    new Date('2025-01-01T00:00:00Z'),
  );
}

test('edited metrics, edited hashes and a stripped signature are each reported', async () => {
  const a = await tempDir();
  const b = await tempDir();
  const from = LabStore.open(a.dir);
  const to = LabStore.open(b.dir);
  try {
    const spec = parseSpec(tinySpec());
    const e = from.createExperiment({ spec, name: 'honest' });
    const runs = from.planRuns(e.id, spec);
    from.appendMetrics([{ runId: runs[1].id, key: 'valAccuracy', step: 0, value: 0.5, wallTime: 1 }]);
    const zip = await exportBundle(from, [e.id]);

    // The metrics edited: 0.5 → 0.9.
    const edited = await rezip(zip, (m) =>
      m.set('metrics.csv', Buffer.from(m.get('metrics.csv')!.toString().replace(',0.5,', ',0.9,'))),
    );
    await assert.rejects(
      importBundle(to, edited),
      /bundle entry "metrics.csv": does not match its hash in manifest.json: the bundle was altered/,
    );
    assert.equal(to.counts().experiments, 0, 'nothing imported');

    // The hash edited to match: the signature no longer does.
    const rehashed = await rezip(edited, (m) => {
      const manifest = JSON.parse(m.get('manifest.json')!.toString());
      manifest.files['metrics.csv'] = sha256Hex(m.get('metrics.csv')!);
      m.set('manifest.json', Buffer.from(JSON.stringify(manifest, null, 2)));
    });
    await assert.rejects(
      importBundle(to, rehashed),
      /manifest.json": its signature does not match its content/,
    );

    // An entry slipped in that the manifest does not list.
    const extra = await rezip(zip, (m) => m.set(`experiments/${e.id}/log.json`, Buffer.from('[]')));
    await assert.rejects(importBundle(to, extra), /log.json": does not match its hash/);

    // Honest: imports, verified, signed by a key that is not this lab's.
    const report = await importBundle(to, zip);
    assert.equal(report.added.experiments, 1);
    assert.equal(report.integrity?.hashes, 'verified');
    assert.equal(report.integrity?.signature, 'valid');
    assert.match(report.integrity?.keyFingerprint ?? '', /^[0-9a-f]{16}$/);
    assert.equal(report.integrity?.ownKey, false);
    // Back into the lab that made it: its own key.
    assert.equal((await importBundle(from, zip)).integrity?.ownKey, true);

    // Hashes and signature stripped (as a bundle from before them): imports, and says nothing was checked.
    const bare = await rezip(zip, (m) => {
      const { files: _f, signature: _s, ...manifest } = JSON.parse(m.get('manifest.json')!.toString());
      m.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
    });
    const c = await tempDir();
    const third = LabStore.open(c.dir);
    const r3 = await importBundle(third, bare);
    assert.deepEqual(r3.integrity, {
      hashes: 'absent',
      signature: 'absent',
      keyFingerprint: null,
      ownKey: false,
    });
    third.close();
    await c.cleanup();
  } finally {
    from.close();
    to.close();
    await a.cleanup();
    await b.cleanup();
  }
});
