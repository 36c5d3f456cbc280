import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { after, test } from 'node:test';
import yauzl from 'yauzl';
import yazl from 'yazl';
import type { MethodResult } from '../../src/shared/domain/index.js';
import { parseSpec } from '../../src/shared/domain/index.js';
import { bundleFileName, exportBundle } from '../../src/services/bundles/export.js';
import {
  BUNDLE_SCHEMA_VERSION,
  CsvSyntaxError,
  METRICS_HEADER,
  parseCsv,
  readCsvRows,
} from '../../src/services/bundles/format.js';
import { importBundle } from '../../src/services/bundles/import.js';
import { MAX_RECORD_BYTES, Semaphore } from '../../src/services/bundles/import-limits.js';
import { BundleError, DEFAULT_ZIP_LIMITS } from '../../src/services/bundles/zip.js';
import { LabStore, plannedRuns } from '../../src/services/store/index.js';
import type { MetricPoint } from '../../src/shared/lab-api.js';
import { zipOfDeflated } from '../helpers/zip-bytes.js';

const dirs: string[] = [];
const stores: LabStore[] = [];

async function openTemp(): Promise<LabStore> {
  const dir = await mkdtemp(join(tmpdir(), 'tlab-bundle-'));
  dirs.push(dir);
  const s = LabStore.open(dir);
  stores.push(s);
  return s;
}

after(async () => {
  for (const s of stores) s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const spec = parseSpec({
  name: 'bundle me',
  dataset: { builtin: 'fashion-mnist-mini' },
  model: { arch: 'mlp', hidden: [8] },
  source: { init: { seed: 1 }, train: { epochs: 1 } },
  targets: [{ init: { seed: 2 } }, { init: { seed: 3, label: 'third' } }],
  transfer: { T: 3, methods: ['naive', 'gmt'] },
});

function result(method: MethodResult['method'], val: number[]): MethodResult {
  return {
    method,
    valAccuracy: val,
    valLoss: val.map((v) => 2 - v),
    testAccuracy: val[val.length - 1] - 0.01,
    bestStep: 0,
    testAccuracyAtBest: 0.5,
    seconds: 0.5,
    phases: { evaluation: 0.5 },
    gradientEvaluations: 3,
  };
}

/** A store with two finished experiments (metrics, logs, a trained source with weights) and one more. */
async function populated(): Promise<{ store: LabStore; ids: string[]; sha: string }> {
  const store = await openTemp();
  const ids: string[] = [];
  const w = await store.putWeights(Buffer.from('fake safetensors of the trained source'));
  for (let n = 0; n < 3; n++) {
    const e = store.createExperiment({
      spec,
      name: `exp ${n}`,
      tags: n ? ['t'] : [],
      notes: `notes "${n}", with, commas`,
    });
    ids.push(e.id);
    const runs = store.planRuns(e.id, spec);
    const points: MetricPoint[] = [];
    runs.forEach((r, k) => {
      store.updateRun(r.id, {
        status: n === 2 && k > 2 ? 'queued' : 'done',
        startedAt: '2025-03-01T00:00:00.000Z',
        seconds: 0.5,
        backend: 'cpu 4.22.0',
        summary:
          r.kind === 'transfer'
            ? result(r.method as 'gmt', [0.1, 0.3 + k / 100, 0.5, 0.45])
            : { label: r.label, valAccuracy: 0.6, valLoss: 1, testAccuracy: 0.59, seconds: 0.5 },
      });
      for (let step = 0; step <= 3; step++) {
        points.push({
          runId: r.id,
          key: 'valAccuracy',
          step,
          value: Math.random(),
          wallTime: 1_740_000_000_000 + step * 1000 + k,
        });
        points.push({
          runId: r.id,
          key: 'valLoss',
          step,
          value: step === 2 && k === 1 ? Number.NaN : 1 / (step + 1 + Math.random()),
          wallTime: 1_740_000_000_000 + step * 1000 + k,
        });
      }
    });
    points.push({ runId: runs[0].id, key: 'odd,key "quoted"', step: 0, value: 1e-300, wallTime: 1 });
    store.appendMetrics(points);
    store.appendLog(e.id, 'info', `started ${n}`);
    store.appendLog(e.id, 'warn', 'a warning,\nwith a newline');
  }
  const ps = store.addParamSet({
    name: 'source seed 1 (trained)',
    arch: spec.model,
    inputShape: [28, 28, 1],
    classes: 10,
    origin: 'trained',
    seed: 1,
    trainingKey: 'tk-1',
    sha256: w.sha256,
    bytes: w.bytes,
    points: 2,
    experimentId: ids[0],
    summary: { label: 'seed 1', valAccuracy: 0.6, valLoss: 1, testAccuracy: 0.59, seconds: 0.5 },
  });
  store.updateExperiment(ids[0], { sourceParamSetId: ps.id });
  store.updateExperiment(ids[1], { sourceParamSetId: ps.id });
  return { store, ids, sha: w.sha256 };
}

async function snapshot(store: LabStore): Promise<unknown> {
  return { counts: store.counts(), weights: await readdir(join(store.dataDir, 'weights')) };
}

/** Reads a zip independently of the code under test (plain yauzl, names decoded by yauzl). */
function zipEntries(buf: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((res, rej) => {
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return rej(err);
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return rej(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => res(out));
      zip.on('error', rej);
      zip.readEntry();
    });
  });
}

/**
 * Writes a zip with yazl. Names yazl itself refuses ("../x", "/abs", "a\\b") are written under a
 * placeholder of the same length and patched in the bytes (local header and central directory).
 */
async function rawZip(files: { name: string; data: Buffer | string; mode?: number }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const patches: [Buffer, Buffer][] = [];
  files.forEach((f, i) => {
    let name = f.name;
    if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('..') || name.includes('\\')) {
      const placeholder = `Z${i}`.padEnd(name.length, 'Z');
      assert.equal(Buffer.byteLength(placeholder), Buffer.byteLength(name));
      patches.push([Buffer.from(placeholder), Buffer.from(name)]);
      name = placeholder;
    }
    zip.addBuffer(Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data), name, {
      mode: f.mode ?? 0o100644,
      mtime: new Date(0),
    });
  });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  const buf = Buffer.concat(chunks);
  for (const [from, to] of patches) {
    let at = buf.indexOf(from);
    let hits = 0;
    while (at >= 0) {
      to.copy(buf, at);
      hits++;
      at = buf.indexOf(from, at + 1);
    }
    assert.equal(hits, 2, 'name patched in the local header and the central directory');
  }
  return buf;
}

function manifestOf(ids: string[], over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    bundleSchemaVersion: BUNDLE_SCHEMA_VERSION,
    app: { name: 'trajectory-lab', version: '0.1.0' },
    experimentIds: ids,
    created: '2025-03-01T00:00:00.000Z',
    ...over,
  });
}

test('export → import into a fresh store gives the same experiments, runs, metrics, logs and weights; again adds nothing', async () => {
  const { store, ids, sha } = await populated();
  const chosen = [ids[0], ids[2]];
  const buf = await exportBundle(store, chosen, {
    includeWeights: true,
    now: new Date('2025-03-02T12:00:00Z'),
  });
  const entries = await zipEntries(buf);
  assert.deepEqual(
    [...entries.keys()].sort(),
    [
      'experiments/' + ids[0] + '/experiment.json',
      'experiments/' + ids[0] + '/log.json',
      'experiments/' + ids[0] + '/spec.json',
      'experiments/' + ids[2] + '/experiment.json',
      'experiments/' + ids[2] + '/log.json',
      'experiments/' + ids[2] + '/spec.json',
      'manifest.json',
      'metrics.csv',
      'param-sets.json',
      `weights/${sha}.safetensors`,
    ].sort(),
  );
  const manifest = JSON.parse(entries.get('manifest.json')!.toString());
  assert.equal(manifest.bundleSchemaVersion, BUNDLE_SCHEMA_VERSION);
  assert.equal(manifest.app.name, 'trajectory-lab');
  assert.match(manifest.app.version, /^\d+\.\d+\.\d+/);
  assert.match(manifest.engine.tfjs, /^\d+\.\d+\.\d+/);
  assert.deepEqual(manifest.backends, ['cpu 4.22.0']);
  assert.deepEqual(manifest.experimentIds, chosen);
  assert.equal(manifest.created, '2025-03-02T12:00:00.000Z');
  const csv = entries.get('metrics.csv')!.toString().split('\n');
  assert.equal(csv[0], METRICS_HEADER.join(','));
  assert.equal(csv.length - 2, store.metrics(chosen).length, 'one row per point');
  assert.equal(
    bundleFileName(store, [ids[0]], new Date('2025-03-02T12:00:00Z')),
    'trajectory-lab-exp-0-2025-03-02.zip',
  );
  assert.equal(
    bundleFileName(store, chosen, new Date('2025-03-02T12:00:00Z')),
    'trajectory-lab-2-experiments-2025-03-02.zip',
  );

  const fresh = await openTemp();
  const report = await importBundle(fresh, buf);
  const runCount = store.listRuns(ids[0]).length + store.listRuns(ids[2]).length;
  assert.deepEqual(report, {
    added: { experiments: 2, runs: runCount, metrics: store.metrics(chosen).length, paramSets: 1 },
    alreadyPresent: { experiments: 0, paramSets: 0 },
    experimentIds: chosen,
    integrity: {
      hashes: 'verified',
      signature: 'valid',
      keyFingerprint: report.integrity!.keyFingerprint,
      ownKey: false,
    },
  });
  assert.deepEqual(
    fresh.metrics(chosen),
    store.metrics(chosen),
    'identical metrics, NaN and odd keys included',
  );
  for (const id of chosen) {
    const a = store.getExperiment(id)!;
    const b = fresh.getExperiment(id)!;
    assert.equal(b.origin, 'import');
    assert.deepEqual(b.spec, a.spec);
    assert.deepEqual(
      [b.name, b.tags, b.notes, b.createdAt, b.sourceParamSetId, b.bestByMethod, b.seconds],
      [a.name, a.tags, a.notes, a.createdAt, a.sourceParamSetId, a.bestByMethod, a.seconds],
    );
    assert.deepEqual(b.log, a.log);
    // What was queued when exported cannot run here; everything else is as it was.
    assert.deepEqual(
      b.runs,
      a.runs.map((r) => ({ ...r, status: r.status === 'queued' ? 'interrupted' : r.status })),
    );
  }
  assert.equal(fresh.getExperiment(ids[2])!.status, 'interrupted');
  assert.deepEqual(
    fresh.getParamSet(store.getExperiment(ids[0])!.sourceParamSetId!),
    store.getParamSet(store.getExperiment(ids[0])!.sourceParamSetId!),
  );
  assert.deepEqual(await fresh.readWeights(sha), await store.readWeights(sha));
  assert.equal(fresh.findTrainedByKey('tk-1')?.sha256, sha);
  assert.deepEqual(fresh.integrityCheck(), ['ok']);

  const before = await snapshot(fresh);
  const again = await importBundle(fresh, buf);
  assert.deepEqual(again, {
    added: { experiments: 0, runs: 0, metrics: 0, paramSets: 0 },
    alreadyPresent: { experiments: 2, paramSets: 1 },
    experimentIds: chosen,
    integrity: report.integrity,
  });
  assert.deepEqual(await snapshot(fresh), before);

  // Importing into the store it came from adds nothing either.
  const home = await snapshot(store);
  assert.deepEqual((await importBundle(store, buf)).added, {
    experiments: 0,
    runs: 0,
    metrics: 0,
    paramSets: 0,
  });
  assert.deepEqual(await snapshot(store), home);
});

test('a bundle without weights imports the records; a later one with weights adds the file', async () => {
  const { store, ids, sha } = await populated();
  const light = await exportBundle(store, [ids[1]]);
  assert.ok(![...(await zipEntries(light)).keys()].some((n) => n.startsWith('weights/')));
  const fresh = await openTemp();
  const r = await importBundle(fresh, light);
  assert.deepEqual([r.added.experiments, r.added.paramSets], [1, 1]);
  assert.equal(fresh.getParamSet(store.getExperiment(ids[1])!.sourceParamSetId!)?.sha256, sha);
  assert.equal(fresh.findTrainedByKey('tk-1'), null, 'no weights, no cache hit');
  await assert.rejects(fresh.readWeights(sha), /not in this lab's data folder/);
  // the set's own experiment (ids[0]) did not come along: the link is dropped, the set kept
  assert.equal(fresh.getParamSet(store.getExperiment(ids[1])!.sourceParamSetId!)?.experimentId, null);

  const heavy = await exportBundle(store, [ids[1]], { includeWeights: true });
  const r2 = await importBundle(fresh, heavy);
  assert.deepEqual(r2.added, { experiments: 0, runs: 0, metrics: 0, paramSets: 0 });
  assert.deepEqual(await fresh.listWeightFiles(), [sha]);
  assert.equal(fresh.findTrainedByKey('tk-1')?.sha256, sha);
});

test('unsafe or malformed bundles are rejected with a clear message and change nothing', async () => {
  const { store, ids, sha } = await populated();
  const good = await zipEntries(await exportBundle(store, [ids[0]], { includeWeights: true }));
  // These cases edit entries on purpose to reach each check; the manifest's hashes (tested in
  // reliability-bundles.test.ts) would stop them all first, so they go as from an older app.
  const {
    files: _hashes,
    signature: _signature,
    ...unhashed
  } = JSON.parse(good.get('manifest.json')!.toString());
  good.set('manifest.json', Buffer.from(JSON.stringify(unhashed)));
  const target = await openTemp();
  // something already in the target store, so "unchanged" is not trivially "empty"
  await importBundle(target, await exportBundle(store, [ids[1]]));
  const files = (
    over: Record<string, Buffer | string | null> = {},
  ): { name: string; data: Buffer | string }[] => {
    const out: { name: string; data: Buffer | string }[] = [];
    for (const [name, data] of good) if (!(name in over)) out.push({ name, data });
    for (const [name, data] of Object.entries(over)) if (data !== null) out.push({ name, data });
    return out;
  };
  const cases: {
    what: string;
    zip: () => Promise<Buffer>;
    message: RegExp;
    limits?: Record<string, number>;
  }[] = [
    {
      what: 'a "../" entry',
      zip: () => rawZip(files({ '../evil.json': '{}' })),
      message: /bundle entry "\.\.\/evil\.json": climbs out of the bundle/,
    },
    {
      what: 'a nested "../" entry',
      zip: () => rawZip(files({ 'experiments/../../x.json': '{}' })),
      message: /"experiments\/\.\.\/\.\.\/x\.json": climbs out/,
    },
    {
      what: 'an absolute path',
      zip: () => rawZip(files({ '/etc/cron.d/evil': 'x' })),
      message: /bundle entry "\/etc\/cron\.d\/evil": is an absolute path/,
    },
    {
      what: 'a drive-letter path',
      zip: () => rawZip(files({ 'C:/evil.txt': 'x' })),
      message: /"C:\/evil\.txt": is an absolute path/,
    },
    {
      what: 'a backslash',
      zip: () => rawZip(files({ 'weights\\x.safetensors': 'x' })),
      message: /"weights\\x\.safetensors": has a backslash/,
    },
    {
      what: 'a symlink',
      zip: () => rawZip([...files(), { name: 'experiments/link.json', data: '/etc/passwd', mode: 0o120777 }]),
      message: /"experiments\/link\.json": is a symbolic link/,
    },
    {
      what: 'a duplicate name',
      zip: () => rawZip([...files(), { name: 'metrics.csv', data: METRICS_HEADER.join(',') + '\n' }]),
      message: /"metrics\.csv": appears twice/,
    },
    {
      what: 'an unknown path',
      zip: () => rawZip(files({ 'notes/readme.txt': 'hi' })),
      message: /"notes\/readme\.txt": is not part of a bundle/,
    },
    {
      what: 'an entry over the size limit',
      zip: () => rawZip(files()),
      limits: { maxEntryBytes: 100 },
      message: /bundle entry ".*": is \d+ bytes; at most 100/,
    },
    {
      what: 'too much in total',
      zip: () => rawZip(files()),
      limits: { maxTotalBytes: 2000 },
      message: /more than 2000 bytes uncompressed/,
    },
    {
      what: 'no manifest',
      zip: () => rawZip(files({ 'manifest.json': null })),
      message: /no manifest\.json; it is not a Trajectory Lab bundle/,
    },
    {
      what: 'a manifest that is not JSON',
      zip: () => rawZip(files({ 'manifest.json': '{"bundleSchemaVersion": 1,' })),
      message: /"manifest\.json": is not valid JSON/,
    },
    {
      what: 'a manifest without experiment ids',
      zip: () => rawZip(files({ 'manifest.json': manifestOf(ids, { experimentIds: undefined }) })),
      message: /"manifest\.json": "experimentIds"/,
    },
    {
      what: 'a manifest without app',
      zip: () =>
        rawZip(
          files({
            'manifest.json': JSON.stringify({
              bundleSchemaVersion: 1,
              experimentIds: [ids[0]],
              created: 'x',
            }),
          }),
        ),
      message: /"manifest\.json": "app"/,
    },
    {
      what: 'a newer bundle schema',
      zip: () => rawZip(files({ 'manifest.json': manifestOf([ids[0]], { bundleSchemaVersion: 99 }) })),
      message: /"manifest\.json": bundle schema version 99 is newer/,
    },
    {
      what: 'an experiment not in the manifest',
      zip: () => rawZip(files({ 'manifest.json': manifestOf(['someOtherId']) })),
      message: new RegExp(
        `"experiments/${ids[0]}/.*": experiment ${ids[0]} is not listed in manifest\\.json`,
      ),
    },
    {
      what: 'a bad spec',
      zip: () =>
        rawZip(
          files({
            [`experiments/${ids[0]}/spec.json`]: JSON.stringify({
              ...spec,
              transfer: { ...spec.transfer, T: 0 },
            }),
          }),
        ),
      message: new RegExp(`"experiments/${ids[0]}/spec\\.json": spec field "transfer\\.T"`),
    },
    {
      what: 'weights whose hash is not their name',
      zip: () => rawZip(files({ [`weights/${sha}.safetensors`]: 'tampered' })),
      message: new RegExp(`"weights/${sha}\\.safetensors": content has sha256`),
    },
    {
      what: 'a metrics row for an unknown run',
      zip: () =>
        rawZip(
          files({ 'metrics.csv': `${METRICS_HEADER.join(',')}\n${ids[0]},nosuchrun,valAccuracy,0,0.5,1\n` }),
        ),
      message: /"metrics\.csv": line 2: run "nosuchrun" is not a run of experiment/,
    },
    {
      what: 'a metrics point given twice',
      zip: () => {
        const row = `${ids[0]},${store.listRuns(ids[0])[0].id},valAccuracy,0,0.5,1\n`;
        return rawZip(files({ 'metrics.csv': `${METRICS_HEADER.join(',')}\n${row}${row}` }));
      },
      message: /"metrics\.csv": line 3: run \S+ has a second value for valAccuracy at step 0/,
    },
    {
      what: 'a record too large to read into memory',
      zip: () =>
        rawZip(files({ [`experiments/${ids[0]}/log.json`]: Buffer.alloc(MAX_RECORD_BYTES + 1, 0x20) })),
      message: /log\.json": is 33554433 bytes; a record of a bundle may have at most 33554432/,
    },
    {
      what: 'a metrics value that is not a number',
      zip: () =>
        rawZip(
          files({
            'metrics.csv': `${METRICS_HEADER.join(',')}\n${ids[0]},${store.listRuns(ids[0])[0].id},valAccuracy,0,0x1F,1\n`,
          }),
        ),
      message: /"metrics\.csv": line 2: value "0x1F" is not a number/,
    },
  ];
  for (const c of cases) {
    const before = await snapshot(target);
    const zip = await c.zip();
    await assert.rejects(importBundle(target, zip, { limits: c.limits }), (e: unknown) => {
      assert.ok(e instanceof BundleError, `${c.what}: a BundleError (${String(e)})`);
      assert.match(e.message, c.message, c.what);
      assert.equal(e.code, 'invalid');
      return true;
    });
    assert.deepEqual(await snapshot(target), before, `${c.what}: the store is unchanged`);
  }

  // The same files, unmodified, do import: the cases above failed for their one defect.
  assert.equal((await importBundle(target, await rawZip(files()))).added.experiments, 1);
});

test('a truncated or corrupt zip gives a clear message and changes nothing', async () => {
  const { store, ids } = await populated();
  const buf = await exportBundle(store, ids, { includeWeights: true });
  const target = await openTemp();
  const before = await snapshot(target);
  await assert.rejects(
    importBundle(target, buf.subarray(0, Math.floor(buf.length / 2))),
    /^BundleError: bundle: not a readable zip file: the zip is truncated or corrupt \(end of central directory record signature not found/i,
  );
  await assert.rejects(importBundle(target, Buffer.from('not a zip at all')), /not a readable zip file/);
  await assert.rejects(importBundle(target, Buffer.alloc(0)), /not a readable zip file/);
  // A flipped byte in the stored weights (data, not structure) is caught by the CRC.
  const flipped = Buffer.from(buf);
  const at = flipped.indexOf(Buffer.from('fake safetensors'));
  assert.ok(at > 0);
  flipped[at] ^= 0xff;
  await assert.rejects(
    importBundle(target, flipped),
    /bundle entry "weights\/[0-9a-f]{64}\.safetensors": is corrupt \(CRC-32 does not match\)/,
  );
  assert.deepEqual(await snapshot(target), before);
});

test('a failure while applying removes every row it wrote and moves no weights file into place', async () => {
  const { store, ids, sha } = await populated();
  const buf = await exportBundle(store, [ids[0]], { includeWeights: true });
  const target = await openTemp();
  const before = await snapshot(target);
  // A real SQLite failure half-way through (after the experiment, its runs and log were written).
  const db = (target as unknown as { db: import('better-sqlite3').Database }).db;
  db.exec(
    `CREATE TEMP TRIGGER fail_metrics BEFORE INSERT ON metrics BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END`,
  );
  await assert.rejects(
    importBundle(target, buf),
    /bundle: could not be applied, nothing was imported: simulated disk full/,
  );
  // Rows were written (hidden) before metrics failed: they are gone, and the weights, which go
  // into place only just before the last transaction, never arrived.
  assert.deepEqual(await snapshot(target), before, 'no row or file of the bundle stayed');
  assert.deepEqual(await readdir(join(target.dataDir, 'import-staging')), [], 'unpacked files removed');
  db.exec('DROP TRIGGER temp.fail_metrics');
  assert.equal((await importBundle(target, buf)).added.experiments, 1);
  assert.equal(target.findTrainedByKey('tk-1')?.sha256, sha);
  assert.deepEqual(target.integrityCheck(), ['ok']);
});

test('an experiment exported without runs imports with its runs planned as interrupted, so it can be resumed', async () => {
  const home = await openTemp();
  const bare = home.createExperiment({ spec, name: 'never planned' });
  assert.equal(bare.status, 'interrupted', 'no runs: nothing would run it');
  const buf = await exportBundle(home, [bare.id]);
  const fresh = await openTemp();
  const report = await importBundle(fresh, buf);
  const runs = fresh.listRuns(bare.id);
  assert.deepEqual(
    runs.map((r) => r.phase),
    plannedRuns(spec).map((p) => p.phase),
  );
  assert.ok(
    runs.every((r) => r.status === 'interrupted'),
    JSON.stringify(runs.map((r) => r.status)),
  );
  assert.equal(report.added.runs, runs.length);
  assert.equal(fresh.getExperimentSummary(bare.id)!.status, 'interrupted');
  assert.equal(
    fresh.listExperiments({ status: ['queued', 'running'] }).total,
    0,
    'nothing left for start-up recovery to chase',
  );
});

/** A zip of `names`, each `size` zero bytes deflated, with honest headers: a small deflate bomb. */
function deflateBomb(names: string[], size: number): Buffer {
  const zeros = Buffer.alloc(size);
  const deflated = deflateRawSync(zeros, { level: 1 });
  const crc = crc32(zeros) >>> 0;
  return zipOfDeflated(names.map((name) => ({ name, deflated, crc, size })));
}

test('a deflate bomb is refused by the default limits before it is inflated', async () => {
  assert.ok(DEFAULT_ZIP_LIMITS.maxTotalBytes <= 2 * 400 * 1024 * 1024, 'at most twice what the API accepts');
  assert.ok(DEFAULT_ZIP_LIMITS.maxEntryBytes <= DEFAULT_ZIP_LIMITS.maxTotalBytes);
  const target = await openTemp();
  const before = await snapshot(target);
  // 3 × 300 MiB of zeros in about 4 MB of zip.
  const names = ['a', 'b', 'c'].map((c) => `weights/${c.repeat(64)}.safetensors`);
  const bomb = deflateBomb(names, 300 * 1024 * 1024);
  assert.ok(bomb.length < 8 * 1024 * 1024);
  const rss = process.memoryUsage().rss;
  await assert.rejects(
    importBundle(target, bomb),
    /bundle: its entries hold more than \d+ bytes uncompressed/,
  );
  assert.ok(process.memoryUsage().rss - rss < 200 * 1024 * 1024, 'nothing was inflated');
  // One entry alone over the per-entry limit is refused too.
  await assert.rejects(
    importBundle(target, deflateBomb([names[0]], DEFAULT_ZIP_LIMITS.maxEntryBytes + 1)),
    /is \d+ bytes; at most \d+ are allowed per entry/,
  );
  // Within the limits, the same construction is read: the refusals above were the limits.
  await assert.rejects(importBundle(target, deflateBomb([names[0]], 1024)), /has no manifest\.json/);
  assert.deepEqual(await snapshot(target), before);
});

test('a run id that already belongs to another experiment here is refused', async () => {
  const { store, ids } = await populated();
  const entries = await zipEntries(await exportBundle(store, [ids[0]]));
  const target = await openTemp();
  const other = target.createExperiment({ spec, name: 'local' });
  const runId = store.listRuns(ids[0])[0].id;
  target.insertRuns([{ ...store.listRuns(ids[0])[0], experimentId: other.id, id: runId }]);
  const before = await snapshot(target);
  const zip = await rawZip([...entries].map(([name, data]) => ({ name, data })));
  await assert.rejects(
    importBundle(target, zip),
    new RegExp(
      `"experiments/${ids[0]}/experiment\\.json": run ${runId} already exists here, in experiment ${other.id}`,
    ),
  );
  assert.deepEqual(await snapshot(target), before);
});

test('metrics.csv read in pieces gives the rows of the whole text; a row that never ends is refused', async () => {
  const text =
    `${METRICS_HEADER.join(',')}\r\n` +
    Array.from({ length: 300 }, (_, i) => `e,r${i},"a key, ""quoted""\nover two lines",${i},0.5,1\n`).join(
      '',
    ) +
    'e,last,k,1,NaN,2';
  const whole = [...parseCsv(text)];
  assert.equal(whole.length, 302);
  // Cut everywhere at odd sizes: inside quotes, between \r and \n, in the middle of a line.
  for (const size of [1, 7, 64, 1000]) {
    const pieces = async function* () {
      for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
    };
    const rows = [];
    for await (const row of readCsvRows(pieces(), 200)) rows.push(row);
    assert.deepEqual(rows, whole, `pieces of ${size}`);
  }
  const endless = async function* () {
    yield 'experiment_id,run_id,key,step,value,wall_time\n';
    for (let i = 0; i < 100; i++) yield 'x'.repeat(1000);
  };
  await assert.rejects(
    async () => {
      for await (const _ of readCsvRows(endless(), 64 * 1024));
    },
    (e: unknown) =>
      e instanceof CsvSyntaxError && /^line 2: a row longer than 65536 characters/.test(e.message),
  );
});

test('imports past the line are refused at once; those in line go in their order', async () => {
  const slots = new Semaphore(1, 2, () => new Error('busy'));
  const order: string[] = [];
  let release = (): void => undefined;
  const held = new Promise<void>((r) => (release = r));
  const first = slots.use(1, async () => {
    order.push('first');
    await held;
  });
  const waiting = ['second', 'third'].map((n) => slots.use(1, async () => void order.push(n)));
  await assert.rejects(
    slots.use(1, async () => order.push('fourth')),
    /busy/,
  );
  release();
  await Promise.all([first, ...waiting]);
  assert.deepEqual(order, ['first', 'second', 'third']);
  // A byte budget lets several small holders in at once, and a large one waits for room.
  const bytes = new Semaphore(10);
  const log: string[] = [];
  let free = (): void => undefined;
  const big = bytes.use(6, () => new Promise<void>((r) => (free = r)));
  const small = bytes.use(4, async () => void log.push('small fits beside'));
  const large = bytes.use(5, async () => void log.push('large after'));
  await small;
  assert.deepEqual(log, ['small fits beside']);
  free();
  await Promise.all([big, large]);
  assert.deepEqual(log, ['small fits beside', 'large after']);
});
