/**
 * Imported first by main.ts. The socket client pulls in the shared API module and with it zod,
 * whose schema constructors probe `new Function("")` once; under this page's CSP (no
 * 'unsafe-eval') the probe is refused and reported as a violation even though zod catches it.
 * Zod skips the probe when its global config says `jitless` — the renderer never validates
 * with zod anyway (the services do).
 */
const g = globalThis as { __zod_globalConfig?: Record<string, unknown> };
g.__zod_globalConfig = { ...(g.__zod_globalConfig ?? {}), jitless: true };
export {};
