/**
 * The first half of an import: a bundle's zip checked and unpacked to files in the data folder
 * (`import-staging/`), every entry verified against the signed manifest as its bytes flow (issue 8,
 * item 4: inflating entries into memory let a 780 KB zip allocate 1.34 GB). Only the manifest and
 * param-sets.json are read into memory, within the record limits of import-limits.ts.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { z } from 'zod';
import { parseArch, unavailable } from '../../shared/domain/index.js';
import type { BundleIntegrity } from '../../shared/lab-api.js';
import { describeFree, freeBytes, isDiskFull } from '../store/disk-space.js';
import {
  BUNDLE_SCHEMA_VERSION,
  MANIFEST,
  PARAM_SETS,
  classifyPath,
  experimentFile,
  firstIssue,
  manifestSchema,
  paramSetsSchema,
  type Manifest,
  type ParamSetFile,
} from './format.js';
import { MAX_RECORD_BYTES, recordMemory } from './import-limits.js';
import { keyFingerprint, labSigningKey, signatureValid } from './signing.js';
import { BundleError, CheckedZip, type EntryDigest, type ZipLimits } from './zip.js';

/** Where imports unpack, inside the data folder (so weights move into place by a rename). */
export const STAGING_DIR = 'import-staging';

/** Room left on the disk after unpacking, so an import does not take the last space a job needs. */
const DISK_MARGIN_BYTES = 64 * 1024 * 1024;

export interface UnpackedBundle {
  manifest: Manifest;
  integrity: BundleIntegrity;
  paramSets: ParamSetFile[];
  /** every other file entry, unpacked: its path and length, by entry name */
  files: Map<string, { path: string; bytes: number }>;
  /**
   * the weights entries, verified, by sha256: the unpacked file, or null for weights the lab
   * already had (`have`), which are hashed but not written
   */
  weights: Map<string, string | null>;
  /** removes the unpacked files (after the import, whatever its outcome) */
  remove(): Promise<void>;
}

/** A record's JSON against its schema; a BundleError naming the entry otherwise. */
export function parseRecord<T>(text: string, name: string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new BundleError(`is not valid JSON (${(e as Error).message})`, name);
  }
  const r = schema.safeParse(value);
  if (!r.success) throw new BundleError(firstIssue(r.error), name);
  return r.data;
}

/** Removes what imports cut short by a crash left unpacked; at start, before any import can begin. */
export function removeStagingLeftovers(dataDir: string): void {
  rmSync(join(dataDir, STAGING_DIR), { recursive: true, force: true });
}

function isRecord(name: string): boolean {
  const kind = classifyPath(name)?.kind;
  return kind === 'manifest' || kind === 'paramSets' || kind === 'experiment';
}

/**
 * Checks the zip's structure and the manifest (schema, signature), then unpacks every entry to a
 * file, refusing at the first entry that is over a limit, missing from the manifest's hashes, or
 * whose bytes do not match them. On any failure nothing stays on disk.
 */
export async function unpackBundle(
  buf: Buffer,
  dataDir: string,
  limits: ZipLimits,
  have: (sha256: string) => Promise<boolean>,
): Promise<UnpackedBundle> {
  const zip = await CheckedZip.open(
    buf,
    (name) => (classifyPath(name) ? null : 'is not part of a bundle (unknown path)'),
    limits,
  );
  const root = join(dataDir, STAGING_DIR);
  const dir = join(root, `import-${randomBytes(8).toString('hex')}`);
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const sizes = new Map(zip.entries.filter((e) => !e.isDirectory).map((e) => [e.name, e.size]));
    for (const [name, size] of sizes)
      if (isRecord(name) && size > MAX_RECORD_BYTES)
        throw new BundleError(
          `is ${size} bytes; a record of a bundle may have at most ${MAX_RECORD_BYTES}`,
          name,
        );
    if (!sizes.has(MANIFEST)) throw new BundleError(`has no ${MANIFEST}; it is not a Trajectory Lab bundle`);

    const { manifest, integrity } = await readManifest(zip, dataDir);
    const expectHash = (name: string, digest: EntryDigest): void => {
      if (manifest.files && manifest.files[name] !== digest.sha256)
        throw new BundleError(
          `does not match its hash in ${MANIFEST}: the bundle was altered after export`,
          name,
        );
    };
    const listed = new Set(manifest.experimentIds);
    for (const name of sizes.keys()) {
      if (name === MANIFEST) continue;
      if (manifest.files && !manifest.files[name])
        throw new BundleError(`is not listed in ${MANIFEST}'s hashes: the bundle was altered`, name);
      const where = classifyPath(name)!;
      if (where.kind === 'experiment' && !listed.has(where.id))
        throw new BundleError(`experiment ${where.id} is not listed in ${MANIFEST}`, name);
    }
    // Every experiment listed comes with its spec and record, whether or not this lab has it already.
    for (const id of manifest.experimentIds)
      for (const name of [experimentFile(id, 'spec.json'), experimentFile(id, 'experiment.json')])
        if (!sizes.has(name)) throw new BundleError(`is missing (listed in ${MANIFEST})`, name);
    for (const name of Object.keys(manifest.files ?? {}))
      if (!sizes.has(name))
        throw new BundleError(`is listed in ${MANIFEST} but missing: the bundle was altered`, name);

    const paramSets = sizes.has(PARAM_SETS) ? await readParamSets(zip, expectHash) : [];
    // Weights are checked against their users before a byte of them is read.
    const weightsCap = new Map<string, number>();
    for (const name of sizes.keys()) {
      const where = classifyPath(name)!;
      if (where.kind !== 'weights') continue;
      const users = paramSets.filter((p) => p.sha256 === where.sha256);
      if (users.length === 0)
        throw new BundleError(`no parameter set in ${PARAM_SETS} uses these weights`, name);
      weightsCap.set(name, Math.max(...users.map((p) => p.bytes)));
    }

    // Weights this lab already has are hashed as they stream by, and not written again.
    const toUnpack: { name: string; size: number; write: boolean }[] = [];
    for (const [name, size] of sizes) {
      if (name === MANIFEST || name === PARAM_SETS) continue;
      const where = classifyPath(name)!;
      toUnpack.push({ name, size, write: where.kind !== 'weights' || !(await have(where.sha256)) });
    }
    const needed = toUnpack.reduce((n, e) => (e.write ? n + e.size : n), 0);
    const free = freeBytes(dataDir);
    if (free !== null && free < needed + DISK_MARGIN_BYTES)
      throw unavailable(
        `not enough disk space to import this bundle: it unpacks to ${mib(needed)} and the disk holding ${dataDir} has ${mib(free)} free`,
      );

    await mkdir(dir, { recursive: true });
    const files = new Map<string, { path: string; bytes: number }>();
    const weights = new Map<string, string | null>();
    for (const [i, { name, write }] of toUnpack.entries()) {
      const path = join(dir, String(i));
      const sink = write ? createWriteStream(path, { flags: 'wx' }) : discard();
      const digest = await zip.pipe(name, sink, weightsCap.get(name));
      expectHash(name, digest);
      const where = classifyPath(name)!;
      if (where.kind !== 'weights') {
        files.set(name, { path, bytes: digest.bytes });
        continue;
      }
      if (digest.sha256 !== where.sha256)
        throw new BundleError(`content has sha256 ${digest.sha256}, not the one its name says`, name);
      for (const p of paramSets)
        if (p.sha256 === where.sha256 && p.bytes !== digest.bytes)
          throw new BundleError(`is ${digest.bytes} bytes but parameter set ${p.id} says ${p.bytes}`, name);
      weights.set(where.sha256, write ? path : null);
    }
    return { manifest, integrity, paramSets, files, weights, remove };
  } catch (e) {
    await remove();
    if (isDiskFull(e))
      throw unavailable(
        `the disk holding ${dataDir} filled up while the bundle was unpacked (${describeFree(dataDir)})`,
      );
    throw e;
  } finally {
    zip.close();
  }
}

/** A sink for bytes that only need hashing. */
function discard(): Writable {
  return new Writable({ write: (_chunk, _enc, done) => done() });
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** The manifest read, parsed and its signature checked; the entries' hashes are checked as they unpack. */
async function readManifest(
  zip: CheckedZip,
  dataDir: string,
): Promise<{ manifest: Manifest; integrity: BundleIntegrity }> {
  const size = zip.entries.find((e) => e.name === MANIFEST)!.size;
  return recordMemory.use(size, async () => {
    const text = (await zip.read(MANIFEST, MAX_RECORD_BYTES)).data.toString('utf8');
    const manifest = parseRecord(text, MANIFEST, manifestSchema);
    const integrity = checkSignature(text, manifest, dataDir);
    if (manifest.bundleSchemaVersion > BUNDLE_SCHEMA_VERSION) {
      throw new BundleError(
        `bundle schema version ${manifest.bundleSchemaVersion} is newer than this app reads (${BUNDLE_SCHEMA_VERSION}); it was made by ${manifest.app.name} ${manifest.app.version}`,
        MANIFEST,
      );
    }
    if (new Set(manifest.experimentIds).size !== manifest.experimentIds.length)
      throw new BundleError('"experimentIds" lists an experiment twice', MANIFEST);
    return { manifest, integrity };
  });
}

/**
 * The manifest against its signature (see signing.ts). A bundle made before hashes were added
 * passes as 'absent', and says so.
 */
function checkSignature(text: string, manifest: Manifest, dataDir: string): BundleIntegrity {
  if (!manifest.files) return { hashes: 'absent', signature: 'absent', keyFingerprint: null, ownKey: false };
  if (!manifest.signature)
    return { hashes: 'verified', signature: 'absent', keyFingerprint: null, ownKey: false };
  const { signature: _signature, ...body } = JSON.parse(text) as Record<string, unknown>;
  if (!signatureValid(JSON.stringify(body), manifest.signature))
    throw new BundleError('its signature does not match its content: the manifest was altered', MANIFEST);
  const fingerprint = keyFingerprint(manifest.signature.publicKey);
  let ownKey = false;
  try {
    ownKey = keyFingerprint(labSigningKey(dataDir).publicKey) === fingerprint;
  } catch {
    // no key here yet and none can be made: it is not ours
  }
  return { hashes: 'verified', signature: 'valid', keyFingerprint: fingerprint, ownKey };
}

async function readParamSets(
  zip: CheckedZip,
  expectHash: (name: string, digest: EntryDigest) => void,
): Promise<ParamSetFile[]> {
  const size = zip.entries.find((e) => e.name === PARAM_SETS)!.size;
  return recordMemory.use(size, async () => {
    const { data, ...digest } = await zip.read(PARAM_SETS, MAX_RECORD_BYTES);
    expectHash(PARAM_SETS, digest);
    const paramSets = parseRecord(data.toString('utf8'), PARAM_SETS, paramSetsSchema);
    const ids = new Set<string>();
    for (const p of paramSets) {
      if (ids.has(p.id)) throw new BundleError(`parameter set ${p.id} appears twice`, PARAM_SETS);
      ids.add(p.id);
      try {
        parseArch(p.arch, 'arch');
      } catch (e) {
        throw new BundleError(`parameter set ${p.id}: ${(e as Error).message}`, PARAM_SETS);
      }
    }
    return paramSets;
  });
}
