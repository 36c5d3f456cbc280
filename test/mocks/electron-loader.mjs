// Module hook: `import ... from 'electron'` loads the mock below instead of the real package
// (which, without its binary, only exports a path). Registered by register-electron.ts.
export async function resolve(specifier, context, next) {
  if (specifier === 'electron') {
    // Through the rest of the chain, so tsx resolves (and later compiles) the TypeScript mock.
    return next(new URL('./electron.ts', import.meta.url).href, context);
  }
  return next(specifier, context);
}
