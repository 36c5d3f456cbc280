/**
 * Starts a headless host in its own process (host-process.ts) on a data folder, for tests that
 * kill it or measure it, and waits until it listens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HOST_PROCESS = fileURLToPath(new URL('./host-process.ts', import.meta.url));

export interface HostProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  token: string;
}

export async function spawnHost(dataDir: string): Promise<HostProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOST_PROCESS, dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`host exited with ${code}: ${stderr}`)));
  });
  const { pid, url, token } = JSON.parse(line) as Omit<HostProcess, 'child'>;
  return { child, pid, url, token };
}
