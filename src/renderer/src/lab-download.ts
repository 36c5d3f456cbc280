/**
 * The lab's downloads (lab-api.ts `downloadSchemas`): in the desktop app main makes the file and
 * asks where to save it; in a browser the page fetches it from `serve` (the session cookie carries
 * the token) and hands it to the browser's download. Either way a failure arrives as a LabError.
 */
import { downloadPath } from '../../shared/download-paths.js';
import type { DownloadArgs, DownloadName, LabError } from '../../shared/lab-api.js';
import { LabRequestError } from '../../shared/lab-errors.js';
import { downloadBlob } from './download.js';
import { dispositionFileName } from './lib/disposition.js';
import { request, transport } from './lab.js';

/**
 * Makes and saves a download. Resolves with where it went: a path (desktop), the file name
 * (browser), or null when the user cancelled the save dialog.
 */
export async function saveLabDownload<N extends DownloadName>(
  name: N,
  args: DownloadArgs<N> & Record<string, string | number>,
): Promise<string | null> {
  if (transport === 'electron') return (await request('downloads.save', { name, args })).savedTo;
  const res = await fetch(downloadPath(name, args), { credentials: 'same-origin' });
  if (!res.ok) {
    let error: LabError = { code: 'internal', message: `the lab answered HTTP ${res.status}` };
    try {
      error = ((await res.json()) as { error: LabError }).error ?? error;
    } catch {
      // not JSON: keep the status
    }
    throw new LabRequestError(error);
  }
  const fileName = dispositionFileName(res.headers.get('content-disposition')) ?? `${name}.bin`;
  downloadBlob(await res.blob(), fileName);
  return fileName;
}
