/** bundles.*: zip in, zip out (base64 over the API), built by src/services/bundles. */
import { exportBundle, bundleFileName } from '../bundles/export.js';
import { importBundle } from '../bundles/import.js';
import { notFound } from '../../shared/domain/index.js';
import type { HandlerTable, ServiceContext } from './context.js';

export function bundleHandlers(ctx: ServiceContext): HandlerTable<'bundles.export' | 'bundles.import'> {
  return {
    'bundles.export': async ({ experimentIds, includeWeights }) => {
      const missing = experimentIds.filter((id) => !ctx.store.hasExperiment(id));
      if (missing.length)
        throw notFound(
          `experiment ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}`,
          'experimentIds',
        );
      const zip = await exportBundle(ctx.store, experimentIds, { includeWeights });
      return {
        fileName: bundleFileName(ctx.store, experimentIds),
        data: zip.toString('base64'),
        bytes: zip.length,
      };
    },

    'bundles.import': async ({ data }) => {
      const report = await importBundle(ctx.store, Buffer.from(data, 'base64'));
      for (const id of report.experimentIds) {
        const s = ctx.store.getExperimentSummary(id);
        if (s) ctx.emit({ type: 'experiment.updated', experiment: s });
      }
      return report;
    },
  };
}
