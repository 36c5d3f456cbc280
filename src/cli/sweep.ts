/**
 * `lab sweep spec.json --out dir [--queue redis://…]` and `lab worker --queue redis://…`.
 * The sweep's host is an ordinary lab over a data folder (`--db`, default `<out>/lab`): it is the
 * only writer of that store, runs the points' phase jobs on its own worker processes or puts them
 * on BullMQ for `lab worker`s anywhere, and writes one result per point plus a summary.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { nodeWorkerLauncher } from '../services/jobs/node-worker.js';
import { startRemoteQueue, type RemoteQueue } from '../services/jobs/remote/remote-queue.js';
import { redactUrl } from '../services/jobs/remote/redis-connection.js';
import { readToken, startWorkerAgent } from '../services/jobs/remote/worker-agent.js';
import { runSweep, type SweepPointOutcome } from '../services/jobs/sweep-runner.js';
import { openLab } from '../services/lab-service.js';
import { pct } from './progress.js';
import {
  type ExperimentResult,
  groupRows,
  type PointMethodRow,
  type SweepPoint,
} from '../shared/domain/index.js';

export interface SweepCommand {
  json: Record<string, unknown>;
  name: string;
  out: string;
  dataDir: string;
  toSpec: Parameters<typeof runSweep>[0]['toSpec'];
  concurrency?: number;
  queue?: string;
  token?: string;
  gatewayHost?: string;
  gatewayPort?: number;
  allowRemote?: boolean;
  advertise?: string;
  appVersion: string;
}

/** One row per point and method, averaged over the point's targets. */
export function pointRows(outcomes: readonly SweepPointOutcome[]): PointMethodRow[] {
  const rows: PointMethodRow[] = [];
  for (const o of outcomes) {
    const r = o.result;
    if (!r) continue;
    for (const m of r.spec.transfer.methods) {
      const per = r.targets.map((t) => t.methods[m]).filter((x) => !!x);
      const avg = (f: (x: NonNullable<(typeof per)[number]>) => number): number =>
        per.reduce((a, x) => a + f(x), 0) / per.length;
      rows.push({
        point: o.point.index,
        group: o.point.group,
        label: o.point.label,
        method: m,
        valAccuracyAtT: avg((x) => x.valAccuracy[x.valAccuracy.length - 1]!),
        testAccuracyAtT: avg((x) => x.testAccuracy),
        bestValAccuracy: avg((x) => Math.max(...x.valAccuracy)),
        testAccuracyAtBest: avg((x) => x.testAccuracyAtBest),
      });
    }
  }
  return rows;
}

function csvCell(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function sweepCsv(points: readonly SweepPoint[], outcomes: readonly SweepPointOutcome[]): string {
  const keys = Object.keys(points[0]?.values ?? {});
  const head = [
    'point',
    ...keys,
    'status',
    'experiment',
    'method',
    'valAccuracyAtT',
    'testAccuracyAtT',
    'bestValAccuracy',
    'testAccuracyAtBest',
  ];
  const lines = [head.join(',')];
  const rows = pointRows(outcomes);
  for (const o of outcomes) {
    const mine = rows.filter((r) => r.point === o.point.index);
    const base = [o.point.index, ...keys.map((k) => o.point.values[k]), o.status, o.experimentId];
    if (mine.length === 0) lines.push([...base, '', '', '', '', ''].map(csvCell).join(','));
    for (const r of mine)
      lines.push(
        [...base, r.method, r.valAccuracyAtT, r.testAccuracyAtT, r.bestValAccuracy, r.testAccuracyAtBest]
          .map(csvCell)
          .join(','),
      );
  }
  return lines.join('\n') + '\n';
}

/** The printed table: per group and method, mean ± std over the seeds. */
export function groupTable(outcomes: readonly SweepPointOutcome[]): string {
  const groups = groupRows(pointRows(outcomes));
  const pm = (m: { mean: number; std: number; n: number }): string => `${pct(m.mean)} ± ${pct(m.std)}`;
  const rows = [['group', 'method', 'n', 'val@T', 'test@T']];
  for (const g of groups)
    rows.push([g.group, g.method, String(g.testAccuracyAtT.n), pm(g.valAccuracyAtT), pm(g.testAccuracyAtT)]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const fmt = (row: string[]): string =>
    row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [fmt(rows[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.slice(1).map(fmt)].join('\n');
}

/** What a host with --queue prints: where workers reach it and the command that starts one. */
export function queueBanner(url: string, remote: RemoteQueue): string {
  return (
    `queue: BullMQ on ${redactUrl(url)}; workers reach this host at ${remote.gatewayUrl}\n` +
    `start workers with:  TRAJECTORY_LAB_WORKER_TOKEN=${remote.token} npm run lab -- worker --queue ${redactUrl(url)} --concurrency N\n`
  );
}

export async function sweepCommand(c: SweepCommand): Promise<number> {
  const out = process.stdout;
  let remote: RemoteQueue | null = null;
  if (c.queue) {
    await mkdir(c.dataDir, { recursive: true });
    remote = await startRemoteQueue({
      url: c.queue,
      weightsDir: join(c.dataDir, 'weights'),
      token: c.token ? await readToken(c.token) : undefined,
      // Kept with the data: run the same command again and the workers' token still holds.
      tokenFile: join(c.dataDir, 'worker-token'),
      gatewayHost: c.gatewayHost,
      gatewayPort: c.gatewayPort,
      allowRemote: c.allowRemote,
      advertise: c.advertise,
    });
    out.write(queueBanner(c.queue, remote));
  }
  let service: ReturnType<typeof openLab>;
  try {
    service = openLab({
      dataDir: c.dataDir,
      launcher: nodeWorkerLauncher(),
      host: 'headless',
      appVersion: c.appVersion,
      concurrency: c.concurrency,
      ...(remote && c.queue ? { runner: remote.runner, queueLabel: redactUrl(c.queue) } : {}),
    });
  } catch (e) {
    await remote?.close();
    throw e;
  }
  const stop = (): void => {
    out.write('\nstopping: running points become interrupted; run the same command again to resume\n');
    void service
      .close()
      .finally(() => remote?.close())
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const t0 = performance.now();
  try {
    // The data folder is ours: workers (those of an earlier run of this sweep too) may call this gateway.
    await remote?.runner.announce();
    if (!remote) out.write(`queue: embedded, ${service.queue.concurrency} phase job(s) at a time\n`);
    const { sweepId, points } = await runSweep({
      service,
      json: c.json,
      name: c.name,
      toSpec: c.toSpec,
      onPoint: (p, ended, total) =>
        out.write(
          `[${ended}/${total}] point ${p.point.index} ${p.point.label}: ${p.status}${p.earlier ? ' (earlier run)' : ''}\n`,
        ),
    });
    const seconds = (performance.now() - t0) / 1000;
    const all = points.map((p) => p.point);
    for (const p of points) {
      if (!p.result) continue;
      const file = join(c.out, 'points', String(p.point.index).padStart(3, '0'), 'result.json');
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, JSON.stringify(p.result satisfies ExperimentResult, null, 2) + '\n');
    }
    await writeFile(join(c.out, 'summary.csv'), sweepCsv(all, points));
    const summary = {
      sweepId,
      name: c.name,
      seconds,
      queue: c.queue ? redactUrl(c.queue) : 'embedded',
      points: points.map((p) => ({
        index: p.point.index,
        label: p.point.label,
        group: p.point.group,
        values: p.point.values,
        status: p.status,
        experimentId: p.experimentId,
      })),
      groups: groupRows(pointRows(points)),
    };
    await writeFile(join(c.out, 'sweep.json'), JSON.stringify(summary, null, 2) + '\n');
    out.write(`\n${groupTable(points)}\n\n`);
    const failed = points.filter((p) => p.status !== 'done');
    out.write(
      `sweep ${sweepId}: ${points.length - failed.length}/${points.length} points done in ${seconds.toFixed(1)} s; wrote ${join(c.out, 'summary.csv')}, sweep.json and points/*/result.json (store: ${c.dataDir})\n`,
    );
    return failed.length ? 1 : 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await service.close();
    await remote?.close();
  }
}

export interface WorkerCommand {
  queue: string;
  concurrency: number;
  token?: string;
  dataDir?: string;
  gateway?: string;
  lockMs?: number;
}

/** Runs until SIGINT/SIGTERM. */
export async function workerCommand(c: WorkerCommand): Promise<number> {
  const token = c.token ? await readToken(c.token) : process.env.TRAJECTORY_LAB_WORKER_TOKEN;
  if (!token)
    throw new Error("a worker needs the host's token: --token T (or @file) or TRAJECTORY_LAB_WORKER_TOKEN");
  const agent = await startWorkerAgent({
    url: c.queue,
    concurrency: c.concurrency,
    token,
    weightsDir: join(c.dataDir ?? join(homedir(), '.cache', 'trajectory-lab', 'worker'), 'weights'),
    launcher: nodeWorkerLauncher(),
    gateway: c.gateway,
    lockMs: c.lockMs,
    // what the worker takes, finishes and refuses is this command's own output, at any log level
    log: (line) => process.stderr.write(`${line}\n`),
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stderr.write('worker: stopping (jobs in hand go back to the queue)\n');
  await agent.close();
  return 0;
}
