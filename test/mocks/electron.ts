/**
 * A small Electron for tests without the binary: enough of ipcMain/ipcRenderer, contextBridge,
 * BrowserWindow/webContents/frames, utilityProcess, app, session, protocol, shell, dialog and safeStorage for
 * src/main and src/preload to run under node:test. State lives in `mock` so tests can drive it
 * (deliver an IPC call from a given frame, emit a utility process's output) and inspect it.
 */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';

type Handler = (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown;

export class WebFrameMain {
  constructor(public url: string) {}
}

export class WebContents extends EventEmitter {
  readonly mainFrame: WebFrameMain;
  readonly sent: { channel: string; args: unknown[] }[] = [];
  windowOpenHandler: ((d: { url: string }) => { action: string }) | null = null;

  constructor(url: string) {
    super();
    this.mainFrame = new WebFrameMain(url);
  }

  send(channel: string, ...args: unknown[]): void {
    this.sent.push({ channel, args });
  }

  setWindowOpenHandler(h: (d: { url: string }) => { action: string }): void {
    this.windowOpenHandler = h;
  }

  /** Fire a navigation event the way Electron does; returns whether it was prevented. */
  navigate(event: 'will-navigate' | 'will-redirect' | 'will-attach-webview', url: string): boolean {
    let prevented = false;
    this.emit(event, { preventDefault: () => (prevented = true) }, url);
    return prevented;
  }
}

export class BrowserWindow extends EventEmitter {
  static readonly all: BrowserWindow[] = [];
  readonly webContents: WebContents;
  destroyed = false;

  constructor(
    readonly options: Record<string, unknown> = {},
    url = 'app://lab/index.html',
  ) {
    super();
    this.webContents = new WebContents(url);
    BrowserWindow.all.push(this);
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  destroy(): void {
    this.destroyed = true;
  }

  async loadURL(url: string): Promise<void> {
    this.webContents.mainFrame.url = url;
  }

  show(): void {}
}

export interface IpcMainInvokeEvent {
  senderFrame: WebFrameMain | null;
  sender?: WebContents;
}

class IpcMain extends EventEmitter {
  readonly handlers = new Map<string, Handler>();

  handle(channel: string, h: Handler): void {
    if (this.handlers.has(channel))
      throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, h);
  }

  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }

  /** What ipcRenderer.invoke does in Electron: the handler's value, or a rejection with its error. */
  async invoke(channel: string, event: IpcMainInvokeEvent, ...args: unknown[]): Promise<unknown> {
    const h = this.handlers.get(channel);
    if (!h) throw new Error(`No handler registered for '${channel}'`);
    return h(event, ...args);
  }
}

export const ipcMain = new IpcMain();

class IpcRenderer extends EventEmitter {
  /** the frame the preload runs in; a test points it at a foreign frame to play an attacker */
  frame: WebFrameMain | null = null;

  invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    // Arguments cross the process boundary by structured clone.
    return ipcMain.invoke(channel, { senderFrame: this.frame }, ...structuredClone(args));
  }

  /** main → renderer: `webContents.send` arrives here. */
  deliver(channel: string, ...args: unknown[]): void {
    this.emit(channel, { sender: this }, ...structuredClone(args));
  }
}

export const ipcRenderer = new IpcRenderer();

export const contextBridge = {
  exposed: new Map<string, unknown>(),
  exposeInMainWorld(key: string, api: unknown): void {
    if (this.exposed.has(key)) throw new Error(`Cannot bind an API on top of an existing property: ${key}`);
    this.exposed.set(key, api);
  },
};

/** A utility process the test drives: emit its messages, stderr and exit. */
export class UtilityProcess extends EventEmitter {
  pid: number | undefined;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly posted: unknown[] = [];
  killed = 0;

  constructor(
    readonly modulePath: string,
    readonly args: string[],
    readonly options: { env?: Record<string, string>; stdio?: string; serviceName?: string },
    pid?: number,
  ) {
    super();
    this.pid = pid;
  }

  postMessage(m: unknown): void {
    this.posted.push(structuredClone(m));
  }

  kill(): boolean {
    this.killed++;
    return true;
  }

  /** The process ends: stdio closes, then 'exit' (Electron's order is not guaranteed; tests vary it). */
  finish(code: number, o: { stderrFirst?: boolean } = {}): void {
    if (o.stderrFirst ?? true) {
      this.stdout.end();
      this.stderr.end();
      this.emit('exit', code);
    } else {
      this.emit('exit', code);
      this.stdout.end();
      this.stderr.end();
    }
  }
}

export const utilityProcess = {
  forked: [] as UtilityProcess[],
  /** the pid the next fork gets (undefined: not yet spawned) */
  nextPid: undefined as number | undefined,
  fork(modulePath: string, args: string[] = [], options: UtilityProcess['options'] = {}): UtilityProcess {
    const p = new UtilityProcess(modulePath, args, options, this.nextPid);
    this.forked.push(p);
    return p;
  },
};

export const app = Object.assign(new EventEmitter(), {
  isPackaged: false,
  paths: new Map<string, string>(),
  getPath(name: string): string {
    return this.paths.get(name) ?? `/tmp/electron-mock/${name}`;
  },
  setPath(name: string, p: string): void {
    this.paths.set(name, p);
  },
  getVersion: () => '0.0.0-test',
  getAppPath: () => process.cwd(),
  whenReady: () => Promise.resolve(),
  quit(): void {},
  exit(): void {},
  requestSingleInstanceLock: () => true,
  commandLine: { appendSwitch(): void {} },
});

export const session = {
  defaultSession: {
    headersListener: null as null | ((d: unknown, cb: (r: unknown) => void) => void),
    permissionRequest: null as null | ((...a: unknown[]) => void),
    permissionCheck: null as null | ((...a: unknown[]) => boolean),
    webRequest: {
      onHeadersReceived(l: (d: unknown, cb: (r: unknown) => void) => void): void {
        session.defaultSession.headersListener = l;
      },
    },
    setPermissionRequestHandler(h: (...a: unknown[]) => void): void {
      session.defaultSession.permissionRequest = h;
    },
    setPermissionCheckHandler(h: (...a: unknown[]) => boolean): void {
      session.defaultSession.permissionCheck = h;
    },
  },
};

export const protocol = {
  schemes: [] as unknown[],
  handlers: new Map<string, (req: Request) => Promise<Response> | Response>(),
  registerSchemesAsPrivileged(s: unknown[]): void {
    this.schemes.push(...s);
  },
  handle(scheme: string, h: (req: Request) => Promise<Response> | Response): void {
    this.handlers.set(scheme, h);
  },
};

export const shell = {
  opened: [] as string[],
  async openExternal(url: string): Promise<void> {
    this.opened.push(url);
  },
};

export const dialog = {
  errors: [] as [string, string][],
  showErrorBox(title: string, content: string): void {
    this.errors.push([title, content]);
  },
  /** what the next save dialog answers (a path, or null: cancelled), and what each was shown */
  nextSavePath: null as string | null,
  saveDialogs: [] as { parent: unknown; defaultPath?: string }[],
  async showSaveDialog(
    a: unknown,
    b?: { defaultPath?: string },
  ): Promise<{ canceled: boolean; filePath?: string }> {
    const [parent, options] = b === undefined ? [null, a as { defaultPath?: string }] : [a, b];
    this.saveDialogs.push({ parent, defaultPath: options.defaultPath });
    const path = this.nextSavePath;
    return path ? { canceled: false, filePath: path } : { canceled: true };
  },
};

/** A keychain the test can take away (`available = false`); "encryption" is reversible but not the plain text. */
export const safeStorage = {
  available: true,
  backend: 'gnome_libsecret',
  isEncryptionAvailable(): boolean {
    return this.available;
  },
  getSelectedStorageBackend(): string {
    return this.backend;
  },
  encryptString(plain: string): Buffer {
    if (!this.available) throw new Error('Encryption is not available.');
    return Buffer.from(`sealed:${Buffer.from(plain).toString('hex').split('').reverse().join('')}`);
  },
  decryptString(sealed: Buffer): string {
    if (!this.available) throw new Error('Decryption is not available.');
    const hex = sealed
      .toString()
      .replace(/^sealed:/, '')
      .split('')
      .reverse()
      .join('');
    return Buffer.from(hex, 'hex').toString();
  },
};

export default {
  app,
  BrowserWindow,
  contextBridge,
  dialog,
  ipcMain,
  ipcRenderer,
  protocol,
  safeStorage,
  session,
  shell,
  utilityProcess,
};
