/**
 * Where `serve` answers the lab's downloads (lab-api.ts `downloadSchemas`). Apart from lab-api.ts
 * so the renderer can build the URL without bundling the request schemas.
 */
export const DOWNLOAD_PATH = '/api/download/';

/** The URL path (with query) that `serve` answers with the file. */
export function downloadPath(name: string, args: Record<string, string | number>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(args)) q.set(k, String(v));
  return `${DOWNLOAD_PATH}${encodeURIComponent(name)}?${q.toString()}`;
}
