/**
 * `<dataDir>/server.json`: how to reach the running headless lab, token included, readable only
 * by the user (0600), so `npm run serve -- list` recovers the address after the terminal is gone.
 * Written when the host listens, removed when it stops; a file left by a process that died is
 * recognised by its pid and not listed.
 */
import { readFileSync } from 'node:fs';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SERVER_FILE = 'server.json';

export interface ServerInfo {
  url: string;
  host: string;
  port: number;
  pid: number;
  dataDir: string;
  startedAt: string;
}

export function serverFilePath(dataDir: string): string {
  return join(dataDir, SERVER_FILE);
}

export async function writeServerFile(info: ServerInfo): Promise<void> {
  const path = serverFilePath(info.dataDir);
  // mode applies to a new file; chmod covers one left behind with other rights.
  await writeFile(path, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  await chmod(path, 0o600);
}

export async function removeServerFile(dataDir: string, pid = process.pid): Promise<void> {
  const info = readServerFile(dataDir);
  if (info && info.pid === pid) await rm(serverFilePath(dataDir), { force: true });
}

export function readServerFile(dataDir: string): ServerInfo | null {
  try {
    return JSON.parse(readFileSync(serverFilePath(dataDir), 'utf8')) as ServerInfo;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running server of this data folder, or null (none, or its process is gone). */
export function runningServer(dataDir: string): ServerInfo | null {
  const info = readServerFile(dataDir);
  return info && Number.isInteger(info.pid) && alive(info.pid) ? info : null;
}
