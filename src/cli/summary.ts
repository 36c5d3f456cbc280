import type { ExperimentResult } from '../shared/domain/index.js';
import { pct } from './progress.js';

/** The table printed at the end of `lab run`: one row per target and method. */
export function summaryTable(r: ExperimentResult): string {
  const rows: string[][] = [
    ['target', 'method', 'val@t=1', 'val@T', 'best (t)', 'test@T', 'test@best', 'grads', 'seconds'],
  ];
  for (const t of r.targets) {
    for (const m of Object.values(t.methods)) {
      if (!m) continue;
      rows.push([
        t.label,
        m.method,
        pct(m.valAccuracy[1]),
        pct(m.valAccuracy[m.valAccuracy.length - 1]),
        `${pct(m.valAccuracy[m.bestStep])} (${m.bestStep})`,
        pct(m.testAccuracy),
        pct(m.testAccuracyAtBest),
        String(m.gradientEvaluations),
        m.seconds.toFixed(1),
      ]);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const fmt = (row: string[]): string =>
    row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const lines = [fmt(rows[0]), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.slice(1).map(fmt)];
  const head = [
    `${r.model.arch} on ${r.dataset.name} (${r.dataset.train} train / ${r.dataset.validation} val / ${r.dataset.test} test), backend ${r.backend.name} ${r.backend.version}${r.backend.adapter ? ` on ${r.backend.adapter}` : ''}, ${r.backend.threads} thread(s)`,
    ...(r.pretrain
      ? [
          `pre-trained on ${r.pretrain.dataset} (head: ${r.pretrain.head}): ${[r.pretrain.source, ...r.pretrain.targets].map((p) => `${p.label} val ${pct(p.valAccuracy)}${p.reused ? ' (reused)' : ''}`).join(', ')}`,
        ]
      : []),
    `source ${r.source.label}: val ${pct(r.source.valAccuracy)}, test ${pct(r.source.testAccuracy)}, ${r.source.seconds.toFixed(1)} s${r.source.reused ? ' (reused)' : ''}`,
    ...r.targets
      .filter((t) => t.trained)
      .map(
        (t) =>
          `target ${t.label} trained (Oracle): val ${pct(t.trained!.valAccuracy)}, test ${pct(t.trained!.testAccuracy)}, ${t.trained!.seconds.toFixed(1)} s`,
      ),
  ];
  return [...head, '', ...lines, '', `total ${r.seconds.toFixed(1)} s`].join('\n');
}
