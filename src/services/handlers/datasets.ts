/** datasets.*: previews read the files on request; registered datasets are store records. */
import { previewDataset } from '../../core/data/load.js';
import { invalid, notFound } from '../../shared/domain/index.js';
import { parseDatasetArg } from '../spec-input.js';
import type { HandlerTable, ServiceContext } from './context.js';

/** A dataset that cannot be read is the caller's input problem, not the lab's. */
async function preview(specArg: unknown, perClass: number): ReturnType<typeof previewDataset> {
  const spec = parseDatasetArg(specArg);
  try {
    return await previewDataset(spec, perClass);
  } catch (e) {
    throw invalid(`cannot read the dataset: ${(e as Error).message}`, 'spec');
  }
}

export function datasetHandlers(
  ctx: ServiceContext,
): HandlerTable<'datasets.list' | 'datasets.preview' | 'datasets.register' | 'datasets.delete'> {
  return {
    'datasets.list': () => ctx.store.listDatasets(),

    'datasets.preview': async ({ spec, perClass }) => {
      const p = await preview(spec, perClass);
      return {
        name: p.name,
        inputShape: p.inputShape,
        classes: p.classes,
        classNames: p.classNames,
        trainCount: p.trainCount,
        testCount: p.testCount,
        classCounts: p.classCounts,
        samples: p.samples.map((s) => ({
          label: s.label,
          pixels: Buffer.from(s.pixels.buffer, s.pixels.byteOffset, s.pixels.byteLength).toString('base64'),
        })),
        contentHash: p.contentHash,
      };
    },

    'datasets.register': async ({ spec, name }) => {
      const p = await preview(spec, 0);
      return ctx.store.addDataset({
        name,
        spec: parseDatasetArg(spec),
        contentHash: p.contentHash,
        inputShape: [...p.inputShape],
        classes: p.classes,
        classNames: p.classNames,
        trainCount: p.trainCount,
        testCount: p.testCount,
      });
    },

    'datasets.delete': ({ id }) => {
      if (!ctx.store.getDataset(id)) throw notFound(`dataset ${id}`);
      return { deleted: ctx.store.deleteDataset(id) };
    },
  };
}
