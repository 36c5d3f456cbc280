/**
 * Redis connections for BullMQ from a URL: `redis://[user:password@]host:port[/db]`, or
 * `rediss://…` for TLS (certificates checked unless TRAJECTORY_LAB_REDIS_INSECURE_TLS=1).
 * Connections retry for ever, so a Redis restart is a pause, not an error: BullMQ's commands
 * wait for the reconnect (maxRetriesPerRequest: null, as BullMQ requires for workers).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { logger } from '../../log.js';

const redisLog = logger('redis');

/** The queue every host and worker of one lab shares (override to run several labs on one Redis). */
export const QUEUE_NAME = process.env.TRAJECTORY_LAB_QUEUE ?? 'trajectory-lab-phases';

export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue: not a URL: "${url}" (expected redis://host:port)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`--queue: "${url}" is not a redis:// or rediss:// URL`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`--queue: bad database number in "${url}"`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db,
    ...(u.protocol === 'rediss:'
      ? { tls: { rejectUnauthorized: process.env.TRAJECTORY_LAB_REDIS_INSECURE_TLS !== '1' } }
      : {}),
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    // Back off up to 2 s between attempts, for as long as it takes.
    retryStrategy: (times) => Math.min(100 * times, 2000),
  };
}

/**
 * A connection that says once when Redis goes away and once when it is back (ioredis would print
 * every failed reconnect). The caller closes it: BullMQ leaves connections it was given open.
 */
export function connectRedis(url: string, log: (line: string) => void = (l) => redisLog.warn(l)): Redis {
  const r = new Redis(redisOptions(url));
  let down = false;
  r.on('error', (e: Error) => {
    if (down) return;
    down = true;
    log(`redis ${redactUrl(url)}: ${e.message}; reconnecting`);
  });
  r.on('ready', () => {
    if (!down) return;
    down = false;
    log(`redis ${redactUrl(url)}: connected again`);
  });
  return r;
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Redis going away shows as errors on every BullMQ object using the connection; connectRedis
 * reports the outage once, so these say only what is something else.
 */
export function otherErrors(log: (line: string) => void): (e: Error) => void {
  return (e) => {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (/^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH)$/.test(code)) return;
    if (/Connection is closed|connect ECONNREFUSED|read ECONNRESET/.test(e.message)) return;
    log(e.message);
  };
}
