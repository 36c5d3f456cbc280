/**
 * What makes a bundle's tampering visible (issue 8, item 9): the manifest lists the sha256 of every
 * other entry, and is signed with this lab's Ed25519 key (made at the first export, kept in the
 * data folder readable only by the user). An import checks every hash and the signature; a
 * bundle whose content differs from its manifest is refused. A signature says which key signed,
 * not who holds it: compare the fingerprint with the sender's (`bundle key` in app.info).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SIGNING_KEY_FILE = 'bundle-signing-key.pem';

export interface BundleSignature {
  algorithm: 'ed25519';
  /** SPKI DER, base64 */
  publicKey: string;
  /** over the manifest's JSON without this field, base64 */
  value: string;
}

/** The first 16 hex digits of the public key's sha256: what a person compares. */
export function keyFingerprint(publicKeyBase64: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyBase64, 'base64')).digest('hex').slice(0, 16);
}

/** This lab's signing key, made on first use. */
export function labSigningKey(dataDir: string): { privateKey: KeyObject; publicKey: string } {
  const path = join(dataDir, SIGNING_KEY_FILE);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(path, 'utf8'));
  } catch {
    const pair = generateKeyPairSync('ed25519');
    privateKey = pair.privateKey;
    try {
      writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    } catch {
      // Another export made it first: use that one.
      privateKey = createPrivateKey(readFileSync(path, 'utf8'));
    }
  }
  const publicKey = (createPublicKey(privateKey).export({ type: 'spki', format: 'der' }) as Buffer).toString(
    'base64',
  );
  return { privateKey, publicKey };
}

export function signManifest(
  body: string,
  key: { privateKey: KeyObject; publicKey: string },
): BundleSignature {
  return {
    algorithm: 'ed25519',
    publicKey: key.publicKey,
    value: sign(null, Buffer.from(body, 'utf8'), key.privateKey).toString('base64'),
  };
}

export function signatureValid(body: string, s: BundleSignature): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(s.publicKey, 'base64'), format: 'der', type: 'spki' });
    return verify(null, Buffer.from(body, 'utf8'), key, Buffer.from(s.value, 'base64'));
  } catch {
    return false;
  }
}
