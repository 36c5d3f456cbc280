/** Loading packages that may be absent (optional or platform-specific), with reasons a user can act on. */

export function errText(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0] : String(e);
}

export function isNotInstalled(e: unknown, pkg: string): boolean {
  const code = (e as { code?: string })?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && errText(e).includes(pkg);
}

/** Dynamic import of an optional package whose name TypeScript must not resolve at build time. */
export function importOptional(pkg: string): Promise<Record<string, unknown>> {
  return import(/* @vite-ignore */ pkg) as Promise<Record<string, unknown>>;
}
