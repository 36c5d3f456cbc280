import type { EngineEvent } from '../shared/domain/index.js';

/**
 * Draws engine events on a terminal: one live progress line per phase on a TTY, plain log lines
 * otherwise (CI logs, pipes), so the same run reads well in both.
 */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (e: EngineEvent) => void {
  const tty = !!stream.isTTY;
  let lastLine = '';
  let lastPlain = 0;
  const clear = (): void => {
    if (tty && lastLine) {
      stream.write('\r\x1b[2K');
      lastLine = '';
    }
  };
  const println = (s: string): void => {
    clear();
    stream.write(s + '\n');
  };
  return (e) => {
    switch (e.type) {
      case 'log':
        println(`${e.level === 'warn' ? 'warning: ' : ''}${e.message}`);
        break;
      case 'backend':
        println(
          `backend: ${e.backend.name} ${e.backend.version} (${e.backend.device}, ${e.backend.threads} thread${e.backend.threads === 1 ? '' : 's'}${e.backend.simd ? ', SIMD' : ''})`,
        );
        for (const n of e.backend.notes) println(`  ${n}`);
        break;
      case 'phase':
        if (e.state === 'start') println(`▶ ${e.phase}`);
        else if (e.state === 'reused') println(`↺ ${e.phase}: reused`);
        else println(`✔ ${e.phase}${e.seconds !== undefined ? ` (${e.seconds.toFixed(1)} s)` : ''}`);
        break;
      case 'progress': {
        const frac = e.total > 0 ? e.done / e.total : 0;
        const width = 28;
        const filled = Math.round(frac * width);
        const line = `  ${e.phase} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${e.detail ?? ''}`;
        if (tty) {
          stream.write('\r\x1b[2K' + line.slice(0, (stream.columns || 120) - 1));
          lastLine = line;
        } else if (Date.now() - lastPlain > 10_000 || e.done === e.total) {
          lastPlain = Date.now();
          stream.write(line + '\n');
        }
        break;
      }
      case 'metric':
        break;
      case 'method-done':
        println(
          `  target ${e.target} ${e.result.method}: val ${pct(e.result.valAccuracy.at(-1)!)} at T, best ${pct(e.result.valAccuracy[e.result.bestStep])} at t=${e.result.bestStep}, test ${pct(e.result.testAccuracy)} (${e.result.seconds.toFixed(1)} s)`,
        );
        break;
    }
  };
}

export function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}
