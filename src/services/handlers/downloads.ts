/**
 * Downloads (lab-api.ts `downloadSchemas`): files made on request. `serve` streams them over HTTP;
 * the desktop app's `downloads.save` makes one and hands it to main's save dialog.
 */
import { validateDownload, type DownloadFile, type DownloadName } from '../../shared/lab-api.js';
import { unavailable } from '../../shared/domain/index.js';
import { transferredParamsAt, type RebuildWorkers } from '../params-at.js';
import type { HandlerTable, ServiceContext } from './context.js';

/** Where the desktop app saves a file (a save dialog); null when the user cancelled. */
export type SaveFile = (fileName: string, bytes: Uint8Array) => Promise<string | null>;

export type MakeDownload = (name: string, args: unknown) => Promise<DownloadFile>;

export function downloadMaker(ctx: ServiceContext, workers: RebuildWorkers): MakeDownload {
  const makers: {
    [N in DownloadName]: (args: ReturnType<typeof validateDownload<N>>['args']) => Promise<DownloadFile>;
  } = {
    'params-at': async ({ runId, step }) => {
      const f = await transferredParamsAt({ store: ctx.store, workers, runId, step });
      return { fileName: f.fileName, contentType: 'application/octet-stream', bytes: f.bytes };
    },
  };
  return (name, args) => {
    const v = validateDownload(name, args);
    return makers[v.name](v.args);
  };
}

export function downloadHandlers(make: MakeDownload, saveFile?: SaveFile): HandlerTable<'downloads.save'> {
  return {
    'downloads.save': async ({ name, args }) => {
      if (!saveFile)
        throw unavailable(
          `this lab has no save dialog; in a browser the file comes from GET /api/download/${name}`,
        );
      const file = await make(name, args);
      const savedTo = await saveFile(file.fileName, file.bytes);
      return { savedTo, fileName: file.fileName, bytes: file.bytes.byteLength };
    },
  };
}
