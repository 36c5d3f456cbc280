/**
 * Issue 8, item 4: a 780 KB zip with two 399 MiB entries (within the per-entry limit) made the
 * server allocate 1.34 GB, and three imports at once peaked at 3.4 GB and stalled the API for
 * 3.5 s. Here such a zip — two weights files of 399 MiB, named by their real sha256, declared by
 * parameter sets and signed, so every check passes and both are inflated in full — goes through a
 * real host process, once and three times at once, while another client asks app.info every 5 ms;
 * the host's peak RSS (VmHWM) and the slowest app.info are printed and bounded. A third bundle whose
 * second file is longer than its parameter set says is refused after its first file was unpacked,
 * and nothing of it stays on disk.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { exportBundle } from '../../src/services/bundles/export.js';
import { MANIFEST, weightsFile } from '../../src/services/bundles/format.js';
import { labSigningKey, signManifest } from '../../src/services/bundles/signing.js';
import { readZip } from '../../src/services/bundles/zip.js';
import { LabStore } from '../../src/services/store/index.js';
import { parseSpec } from '../../src/shared/domain/index.js';
import type { ImportReport } from '../../src/shared/lab-api.js';
import { connectLab, type LabWsClient } from '../../src/shared/lab-ws-client.js';
import { tempDir, tinySpec } from '../helpers/lab.js';
import { spawnHost } from '../helpers/spawn-host.js';
import { deflatedEntry, repeatedEntry, zipOfDeflated } from '../helpers/zip-bytes.js';

const MiB = 1024 * 1024;
const ENTRY_MIB = 399;
/**
 * The host idles at about 200 MB (Node, tsx, the service; 193–201 MB measured here); inflating the
 * two entries into memory would add 837 MB per import. Streamed, an import added 19–50 MB here
 * (256 KiB pieces, write buffers, garbage not yet collected): 400 MB leaves that room several times
 * over for a busier GC, and stays below even one entry held in memory.
 */
const PEAK_RSS_BOUND = 400 * 1e6;
/**
 * Before: a 3.5 s stall. Unpacking runs on zlib's thread and in 256 KiB pieces on the event loop,
 * one import at a time. The worst waits measured here were 0.19–0.55 s, but with the 2 cores
 * under a load of 12–16 (other work), where the 1000-target create of reliability-limits, which
 * unpacks nothing, saw 0.44–0.73 s: that is this machine's floor, not the import's. 1 s stays
 * well under the old stall and clear of that floor.
 */
const LATENCY_BOUND_MS = 1000;

interface BigWeights {
  chunk: Buffer;
  sha256: string;
}

function bigWeights(fill: number): BigWeights {
  const chunk = Buffer.alloc(MiB, fill);
  const hash = createHash('sha256');
  for (let i = 0; i < ENTRY_MIB; i++) hash.update(chunk);
  return { chunk, sha256: hash.digest('hex') };
}

/**
 * A signed bundle of one small experiment and two parameter sets whose weights are `weights`
 * (ENTRY_MIB each); `declared` is the size each set claims. Made by exporting without weights and
 * adding them, with their hashes in the re-signed manifest.
 */
async function heavyBundle(weights: BigWeights[], declared: number[]): Promise<Buffer> {
  const home = await tempDir();
  const store = LabStore.open(home.dir);
  try {
    const spec = parseSpec(tinySpec());
    const e = store.createExperiment({ spec, name: 'two big weights files' });
    store.planRuns(e.id, spec);
    weights.forEach((w, i) =>
      store.addParamSet({
        name: `big ${i}`,
        arch: spec.model,
        inputShape: [28, 28, 1],
        classes: 10,
        origin: 'trained',
        sha256: w.sha256,
        bytes: declared[i],
        points: 1,
        experimentId: e.id,
      }),
    );
    const small = await readZip(await exportBundle(store, [e.id]), () => null);
    const { signature: _old, ...body } = JSON.parse(small.get(MANIFEST)!.toString('utf8')) as {
      files: Record<string, string>;
      includesWeights: boolean;
      signature?: unknown;
    };
    for (const w of weights) body.files[weightsFile(w.sha256)] = w.sha256;
    body.includesWeights = true;
    const signature = signManifest(JSON.stringify(body), labSigningKey(home.dir));
    small.set(MANIFEST, Buffer.from(JSON.stringify({ ...body, signature })));
    return zipOfDeflated([
      ...[...small].map(([name, data]) => deflatedEntry(name, data)),
      ...weights.map((w) => repeatedEntry(weightsFile(w.sha256), w.chunk, ENTRY_MIB)),
    ]);
  } finally {
    store.close();
    await home.cleanup();
  }
}

interface Host {
  child: ChildProcess;
  pid: number;
  client: LabWsClient;
}

async function startHost(dataDir: string): Promise<Host> {
  const { child, pid, url } = await spawnHost(dataDir);
  return {
    child,
    pid,
    client: connectLab(url, { socket: (u) => new WebSocket(u) as never, reconnect: false }),
  };
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

interface Measured {
  ms: number;
  idleRss: number;
  peakRss: number;
  worstMs: number;
}

/**
 * Runs `work` while app.info is asked every 5 ms; the host's peak RSS over it (VmHWM, reset
 * first; where the kernel will not reset it, the highest RSS seen between pings) and the slowest
 * app.info, measured from when the ping was due.
 */
async function measure(host: Host, work: () => Promise<unknown>): Promise<Measured> {
  let resettable = true;
  try {
    writeFileSync(`/proc/${host.pid}/clear_refs`, '5');
  } catch {
    resettable = false;
  }
  const idleRss = memoryOf(host.pid).rss;
  let seenRss = idleRss;
  let worstMs = 0;
  let stop = false;
  const pinger = (async () => {
    while (!stop) {
      const due = performance.now() + 5;
      await new Promise((r) => setTimeout(r, 5));
      await host.client.request('app.info', {});
      worstMs = Math.max(worstMs, performance.now() - due);
      seenRss = Math.max(seenRss, memoryOf(host.pid).rss);
    }
  })();
  const t0 = performance.now();
  try {
    await work();
  } finally {
    stop = true;
    await pinger;
  }
  const ms = performance.now() - t0;
  return { ms, idleRss, peakRss: resettable ? memoryOf(host.pid).peak : seenRss, worstMs };
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;

test(
  'a zip of two 399 MiB entries imports with the host under 400 MB and app.info answered, once and three at once',
  {
    skip: existsSync('/proc/self/status') ? false : 'needs /proc (Linux) to read the host process peak RSS',
  },
  async () => {
    const data = await tempDir();
    let host: Host | null = null;
    try {
      // Different contents for each measurement, so each one writes its files (weights the lab
      // already has are only hashed).
      const first = [bigWeights(0x00), bigWeights(0x01)];
      const second = [bigWeights(0x02), bigWeights(0x03)];
      const full = [ENTRY_MIB * MiB, ENTRY_MIB * MiB];
      const once = await heavyBundle(first, full);
      const lying = await heavyBundle(second, [ENTRY_MIB * MiB, MiB]);
      const thrice = await heavyBundle(second, full);
      assert.ok(once.length < 1 * MiB, `the zip is ${once.length} bytes`);

      host = await startHost(data.dir);
      const h = host;
      const importZip = (zip: Buffer): Promise<ImportReport> =>
        h.client.request('bundles.import', { data: zip.toString('base64') }) as Promise<ImportReport>;
      for (let i = 0; i < 20; i++) await h.client.request('app.info', {});
      const weightsDir = join(data.dir, 'weights');
      const weightsFiles = (ws: BigWeights[]): string[] => ws.map((w) => `${w.sha256}.safetensors`).sort();

      let single: ImportReport | null = null;
      const one = await measure(h, async () => (single = await importZip(once)));
      assert.deepEqual((single as ImportReport | null)?.added.paramSets, 2);
      assert.equal((single as ImportReport | null)?.integrity?.hashes, 'verified');
      for (const w of first)
        assert.equal(statSync(join(weightsDir, `${w.sha256}.safetensors`)).size, ENTRY_MIB * MiB);

      // Its first file unpacked in full, its second stops 1 MiB in: refused, and nothing stays.
      const t0 = performance.now();
      await assert.rejects(importZip(lying), /inflates to more than 1048576 bytes/);
      const refusedMs = performance.now() - t0;
      assert.deepEqual(readdirSync(join(data.dir, 'import-staging')), [], 'nothing unpacked stays');
      assert.deepEqual(readdirSync(weightsDir).sort(), weightsFiles(first));
      const { total } = (await h.client.request('experiments.list', {})) as { total: number };
      assert.equal(total, 1, 'the refused bundle added no experiment');

      let reports: ImportReport[] = [];
      const three = await measure(
        h,
        async () => (reports = await Promise.all([1, 2, 3].map(() => importZip(thrice)))),
      );
      // One of them adds the experiment and its two sets; the others find them.
      assert.deepEqual(reports.map((r) => r.added.experiments).sort(), [0, 0, 1]);
      assert.deepEqual(reports.map((r) => r.alreadyPresent.paramSets).sort(), [0, 2, 2]);
      assert.deepEqual(readdirSync(weightsDir).sort(), weightsFiles([...first, ...second]));
      assert.deepEqual(readdirSync(join(data.dir, 'import-staging')), []);

      process.stdout.write(
        `# zip of ${(once.length / 1e3).toFixed(0)} KB, 2 × ${ENTRY_MIB} MiB entries (load ${loadavg()[0].toFixed(2)}): ` +
          `one import ${one.ms.toFixed(0)} ms, host RSS ${mb(one.idleRss)} idle, peak ${mb(one.peakRss)}, app.info worst ${one.worstMs.toFixed(0)} ms; ` +
          `three at once ${three.ms.toFixed(0)} ms, peak ${mb(three.peakRss)}, app.info worst ${three.worstMs.toFixed(0)} ms; ` +
          `the lying one refused in ${refusedMs.toFixed(0)} ms\n`,
      );
      assert.ok(one.peakRss < PEAK_RSS_BOUND, `one import: peak RSS ${mb(one.peakRss)}`);
      assert.ok(three.peakRss < PEAK_RSS_BOUND, `three imports: peak RSS ${mb(three.peakRss)}`);
      assert.ok(one.worstMs < LATENCY_BOUND_MS, `one import: app.info waited ${one.worstMs.toFixed(0)} ms`);
      assert.ok(
        three.worstMs < LATENCY_BOUND_MS,
        `three imports: app.info waited ${three.worstMs.toFixed(0)} ms`,
      );
    } finally {
      if (host) {
        host.client.close();
        const exited = new Promise((r) => host!.child.once('exit', r));
        host.child.kill('SIGTERM');
        await exited;
      }
      await data.cleanup();
    }
  },
);
