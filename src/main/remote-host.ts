/**
 * The desktop's lab host (Settings → Lab host): the address and token of a lab on another machine
 * (`npm run serve` there), kept by main in the data folder as `remote-host.json` (mode 600). The
 * token is encrypted with the OS keychain through Electron's safeStorage where one is available;
 * where none is (Linux without a secret service, where safeStorage falls back to a fixed key) it
 * is kept as plain text in that file, and the Settings page says so. The renderer never gets the
 * token back.
 */
import { safeStorage } from 'electron';
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import WebSocket from 'ws';
import type { AppInfo, RemoteHostState, RemoteHostTest } from '../shared/lab-api.js';
import { LabRequestError } from '../shared/lab-errors.js';
import { connectLab, type LabWsClient, type SocketLike } from '../shared/lab-ws-client.js';

/** Encrypts the token at rest, where the OS offers a keychain. */
export interface TokenVault {
  /** false: there is no keychain to protect the token with */
  available(): boolean;
  encrypt(plain: string): string;
  decrypt(sealed: string): string;
}

export function electronVault(): TokenVault {
  return {
    available() {
      if (!safeStorage.isEncryptionAvailable()) return false;
      // On Linux without a secret service Electron encrypts with a hard-coded key: no protection.
      if (process.platform !== 'linux') return true;
      const backend = safeStorage.getSelectedStorageBackend?.() ?? 'unknown';
      return backend !== 'basic_text' && backend !== 'unknown';
    },
    encrypt: (plain) => safeStorage.encryptString(plain).toString('base64'),
    decrypt: (sealed) => safeStorage.decryptString(Buffer.from(sealed, 'base64')),
  };
}

function invalid(field: 'url' | 'token', message: string): LabRequestError {
  return new LabRequestError({ code: 'invalid', message, field });
}

/**
 * The host's address from what was typed or pasted: http, https, ws or wss only (the WebSocket
 * API lives at /api of the same origin), no user name or password in it, and the `?token=` of
 * the address `npm run serve` prints taken out as the token.
 */
export function parseHostUrl(raw: string): { url: string; token: string | null } {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw invalid('url', `not an address: "${raw.slice(0, 80)}" (expected e.g. http://gpu-host:8080)`);
  }
  const scheme = { 'http:': 'http:', 'https:': 'https:', 'ws:': 'http:', 'wss:': 'https:' }[u.protocol];
  if (!scheme)
    throw invalid(
      'url',
      `the lab host's address must be http, https, ws or wss, not ${u.protocol.slice(0, 20)}`,
    );
  if (u.username || u.password)
    throw invalid('url', 'put the token in the token field, not a user name or password in the address');
  if (!u.hostname) throw invalid('url', 'the address has no host');
  return { url: `${scheme}//${u.host}`, token: u.searchParams.get('token') };
}

interface SavedFile {
  version: 1;
  url: string;
  token: { encrypted: string } | { plaintext: string };
}

export interface SavedHost {
  url: string;
  token: string;
  storage: 'encrypted' | 'plaintext';
}

/** The setting on disk. */
export class RemoteHostSetting {
  constructor(
    readonly file: string,
    private readonly vault: TokenVault,
  ) {}

  async load(): Promise<SavedHost | null> {
    let doc: SavedFile;
    try {
      doc = JSON.parse(await readFile(this.file, 'utf8')) as SavedFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new Error(`cannot read the lab host setting ${this.file}: ${(e as Error).message}`);
    }
    const { url } = parseHostUrl(doc.url);
    if ('encrypted' in doc.token) {
      if (!this.vault.available())
        throw new Error('the lab host token was encrypted with a keychain that is not available now');
      return { url, token: this.vault.decrypt(doc.token.encrypted), storage: 'encrypted' };
    }
    return { url, token: doc.token.plaintext, storage: 'plaintext' };
  }

  async save(url: string, token: string): Promise<SavedHost> {
    const storage = this.vault.available() ? 'encrypted' : 'plaintext';
    const doc: SavedFile = {
      version: 1,
      url,
      token: storage === 'encrypted' ? { encrypted: this.vault.encrypt(token) } : { plaintext: token },
    };
    const temp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
    await rename(temp, this.file);
    return { url, token, storage };
  }

  async clear(): Promise<void> {
    await rm(this.file, { force: true });
  }
}

/** The host's WebSocket API from main, with the token. */
export function connectHost(url: string, token: string, o: { reconnect?: boolean } = {}): LabWsClient {
  return connectLab(url, {
    token,
    reconnect: o.reconnect ?? true,
    socket: (u) => new WebSocket(u) as unknown as SocketLike,
    sessionStatus: async (u, t) => {
      try {
        return (await fetch(u, { headers: { authorization: `token ${t}` }, cache: 'no-store' })).status;
      } catch {
        return 0;
      }
    },
  });
}

export const REFUSED_TOKEN = 'the lab host refused the token (Settings → Lab host)';

/** Connects once, asks app.info, and closes: what the Settings page's test button shows. */
export async function testHost(url: string, token: string, timeoutMs = 15_000): Promise<RemoteHostTest> {
  const client = connectHost(url, token, { reconnect: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const info = await Promise.race([
      client.request('app.info', {}),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer from ${url} within ${timeoutMs / 1000} s`)),
          timeoutMs,
        );
      }),
    ]);
    return { ok: true, info: info as AppInfo };
  } catch (e) {
    return { ok: false, error: client.state === 'unauthorized' ? REFUSED_TOKEN : (e as Error).message };
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

/** The state the renderer sees. */
export function hostState(saved: SavedHost | null, client: LabWsClient | null): RemoteHostState {
  if (!saved) return { url: null, hasToken: false, tokenStorage: null, connection: 'local' };
  return {
    url: saved.url,
    hasToken: true,
    tokenStorage: saved.storage,
    connection: client?.state ?? 'closed',
  };
}
