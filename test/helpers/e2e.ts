/**
 * What the browser tests share: the built renderer, a headless host on a data folder, Chromium
 * with long-task and CSP instrumentation, screenshots under test-results/screenshots/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CHROMIUM = process.env.LAB_CHROMIUM ?? '/usr/bin/chromium';
export const SHOTS = join(ROOT, 'test-results', 'screenshots');

export interface Host {
  url: string;
  dataDir: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function buildRenderer(): void {
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      'vite.renderer.config.ts',
      '--logLevel',
      'warn',
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`renderer build failed:\n${r.stdout}\n${r.stderr}`);
}

/** `lab serve --data <dir> --port 0` as a child; resolves with the URL it prints. */
export async function startHost(dataDir: string): Promise<Host> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--data', dataDir, '--port', '0'],
    { cwd: ROOT, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`the host printed no URL within 90 s:\n${out}`)), 90_000);
    const check = (): void => {
      const m = /open (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`the host exited (${code}) before listening:\n${out}`));
    });
  });
  return {
    url,
    dataDir,
    proc,
    output: () => out,
    stop: () =>
      new Promise<void>((res) => {
        if (proc.exitCode !== null) return res();
        const kill = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        proc.once('exit', () => {
          clearTimeout(kill);
          res();
        });
        proc.kill('SIGTERM');
      }),
  };
}

/** Records long main-thread tasks, CSP violations and errors from the first script on. */
export const INSTRUMENT = `
  window.__longtasks = [];
  window.__csp = [];
  try {
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration }); })
      .observe({ type: 'longtask', buffered: true });
  } catch (e) { window.__longtasks = null; }
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
`;

export interface PageLog {
  errors: string[];
}

export async function openPage(ctx: BrowserContext, log: PageLog): Promise<Page> {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') log.errors.push(`console: ${m.text()}`);
  });
  return page;
}

export async function shot(page: Page, name: string): Promise<string> {
  const path = join(SHOTS, `${name}.png`);
  // A full-page shot draws the sticky top bar where the page is scrolled to: start at the top.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** "gmt:6:band naive:6" (the chart's data-series attribute) → { gmt: { points: 6, band: true }, … } */
export function parseSeries(attr: string | null): Record<string, { points: number; band: boolean }> {
  const out: Record<string, { points: number; band: boolean }> = {};
  for (const part of (attr ?? '').split(' ').filter(Boolean)) {
    const [id, n, band] = part.split(':');
    out[id] = { points: Number(n), band: band === 'band' };
  }
  return out;
}

export async function next(page: Page, expectStep: string): Promise<void> {
  await page.getByTestId('wizard-next').click();
  await page.locator(`.wizard[data-step="${expectStep}"]`).waitFor();
}

/** Waits until the first element matching `sel` has attribute `name` equal to (or matching) `want`. */
export async function waitAttr(page: Page, sel: string, name: string, want: string | RegExp): Promise<void> {
  await page.waitForFunction(
    ([s, n, w, isRe]) => {
      const v = document.querySelector(s as string)?.getAttribute(n as string) ?? '';
      return isRe ? new RegExp(w as string).test(v) : v === w;
    },
    [sel, name, want instanceof RegExp ? want.source : want, want instanceof RegExp] as const,
    { timeout: 15_000 },
  );
}

export const haveChromium = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
