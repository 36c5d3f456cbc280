/** RFC 4180 cell: quoted when it holds a comma, quote, CR or LF (or leading/trailing spaces). */
export function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number')
    return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  const s = String(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(
  header: readonly string[],
  rows: readonly (readonly (string | number | boolean | null | undefined)[])[],
): string {
  const lines = [header.map(csvCell).join(',')];
  for (const r of rows) lines.push(r.map(csvCell).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export interface CurveRow {
  experiment: string;
  run: string;
  method: string;
  target: string;
  key: string;
  step: number;
  value: number;
}

const CURVE_HEADER = ['experiment', 'run', 'method', 'target', 'key', 'step', 'value'] as const;

/** Every point of every curve, one row each (long format: loads straight into pandas or R). */
export function curvesToCsv(rows: readonly CurveRow[]): string {
  return toCsv(
    CURVE_HEADER,
    rows.map((r) => [r.experiment, r.run, r.method, r.target, r.key, r.step, r.value]),
  );
}

/** Parses CSV written by toCsv (quoted cells, CRLF or LF); used by tests and for round trips. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
