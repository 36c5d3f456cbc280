/**
 * The lab's log for the Node side (main, services, worker, CLI diagnostics); the renderer never
 * imports it (ESLint forbids it). pino writes one JSON record a line; this module fans each line out
 * to the sinks attached now: stderr (readable text, or the JSON itself in a worker, whose parent
 * parses it) and `<data folder>/logs/lab.log` while a lab holds that folder.
 *
 * Level: TRAJECTORY_LAB_LOG_LEVEL (trace, debug, info, warn, error, fatal, silent); default info,
 * warn under the tests. The CLI's own output (progress, tables, --help) does not go through here.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Level, type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVEL_ENV = 'TRAJECTORY_LAB_LOG_LEVEL';
/** Set by a worker's parent: write JSON records to stderr so the parent can log them as its own. */
export const LOG_JSON_ENV = 'TRAJECTORY_LAB_LOG_JSON';

const LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function levelFromEnv(env: NodeJS.ProcessEnv = process.env): Level | 'silent' {
  const v = env[LOG_LEVEL_ENV]?.trim().toLowerCase();
  if (v && LEVELS.includes(v)) return v as Level | 'silent';
  return env.TRAJECTORY_LAB_TEST ? 'warn' : 'info';
}

interface Sink {
  write(line: string): void;
}

const sinks = new Set<Sink>();

/** pino's destination: every attached sink gets every line. A failing sink never throws into a caller. */
const fanOut = {
  write(line: string): void {
    for (const s of sinks) {
      try {
        s.write(line);
      } catch {
        // a full disk or a closed stderr must not take the lab down
      }
    }
  },
};

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const RECORD_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'err', 'component']);

/** One record as a line a person reads: `12:00:01 WARN queue: msg {extra}` plus the error's stack. */
export function formatRecord(line: string): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = typeof r.time === 'number' ? new Date(r.time).toISOString().slice(11, 19) : '';
  const level = LEVEL_NAMES[r.level as number] ?? String(r.level);
  const where = r.component ? `${String(r.component)}: ` : '';
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (!RECORD_KEYS.has(k)) extra[k] = v;
  const tail = Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : '';
  const err = r.err as { stack?: string; message?: string } | undefined;
  const stack = err ? `\n  ${(err.stack ?? err.message ?? '').replace(/\n/g, '\n  ')}` : '';
  return `${time} ${level} ${where}${String(r.msg ?? '')}${tail}${stack}\n`;
}

const stderrSink: Sink = process.env[LOG_JSON_ENV]
  ? { write: (line) => process.stderr.write(line) }
  : { write: (line) => process.stderr.write(formatRecord(line)) };
sinks.add(stderrSink);

/**
 * A worker logs at least `info`: its parent keeps those lines as the failed run's stderr tail (the
 * last things it did) and passes on to its own sinks only what its own level lets through.
 */
function rootLevel(): Level | 'silent' {
  const level = levelFromEnv();
  if (!process.env[LOG_JSON_ENV]) return level;
  return level === 'trace' || level === 'debug' ? level : 'info';
}

/** The root logger; modules take a child: `log.child({ component: 'queue' })`. */
export const log: Logger = pino(
  {
    level: rootLevel(),
    base: { pid: process.pid },
    serializers: { err: pino.stdSerializers.err },
  },
  fanOut,
);

/** A child logger for one part of the lab. */
export function logger(component: string): Logger {
  return log.child({ component });
}

export interface LogFileOptions {
  /** rotate when the file would grow past this (bytes); default 5 MiB */
  maxBytes?: number;
  /** rotated files kept (lab.log.1 … lab.log.N); default 3 */
  keep?: number;
}

/**
 * An append-only file with a size cap: past `maxBytes` it becomes `lab.log.1` (the older ones shift
 * up, the oldest goes) and a new file starts. Writes are synchronous, so the last line before a
 * crash is on disk; the lab logs little enough for that to cost nothing measurable.
 */
export class RotatingFile implements Sink {
  private fd: number | null = null;
  private size = 0;
  private readonly maxBytes: number;
  private readonly keep: number;

  constructor(
    readonly path: string,
    o: LogFileOptions = {},
  ) {
    this.maxBytes = o.maxBytes ?? 5 * 1024 * 1024;
    this.keep = o.keep ?? 3;
    this.open();
  }

  private open(): void {
    this.fd = openSync(this.path, 'a');
    this.size = statSync(this.path).size;
  }

  private rotate(): void {
    this.close();
    rmSync(`${this.path}.${this.keep}`, { force: true });
    for (let i = this.keep - 1; i >= 1; i--) {
      try {
        renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      } catch {
        // that generation does not exist yet
      }
    }
    if (this.keep > 0) renameSync(this.path, `${this.path}.1`);
    else rmSync(this.path, { force: true });
    this.open();
  }

  write(line: string): void {
    if (this.fd === null) return;
    const bytes = Buffer.byteLength(line);
    if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    writeSync(this.fd!, line);
    this.size += bytes;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Where a data folder's log lives. */
export function logFilePath(dataDir: string): string {
  return join(dataDir, 'logs', 'lab.log');
}

/**
 * Also write the log to `<dataDir>/logs/lab.log` until the returned function is called (a lab
 * calls this when it takes the data folder's lock and undoes it when it lets go).
 */
export function attachLogFile(dataDir: string, o: LogFileOptions = {}): () => void {
  const path = logFilePath(dataDir);
  mkdirSync(join(dataDir, 'logs'), { recursive: true });
  const file = new RotatingFile(path, o);
  sinks.add(file);
  return () => {
    sinks.delete(file);
    file.close();
  };
}

const PINO_LEVELS: Record<number, Level> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/**
 * A worker's stderr line, as its parent sees it: a pino record (the worker logs JSON when
 * LOG_JSON_ENV is set) is logged again by the parent at its level with its fields, so it reaches
 * the parent's sinks (lab.log); anything else (a crash trace from Node itself) is logged as a warning.
 * Returns the human-readable text of the line, for the failed run's stderr tail.
 */
export function relayWorkerLine(line: string, into: Logger): string {
  if (!line.trim()) return '';
  let r: Record<string, unknown> | null = null;
  if (line.startsWith('{')) {
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch {
      r = null;
    }
  }
  if (!r || typeof r.level !== 'number' || typeof r.msg !== 'string') {
    into.warn({ stream: 'stderr' }, line);
    return `${line}\n`;
  }
  const level = PINO_LEVELS[r.level] ?? 'info';
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r))
    if (!['level', 'time', 'msg', 'hostname'].includes(k)) fields[k] = v;
  if (fields.pid !== undefined) {
    fields.workerPid = fields.pid;
    delete fields.pid;
  }
  into[level](fields, r.msg);
  return formatRecord(line);
}
