/**
 * params.*: parameter sets are weights files plus records. An import is checked against the
 * architecture it claims to fit before anything is stored.
 */
import { buildModel } from '../../core/models/index.js';
import { disposeParams, type Params } from '../../core/params.js';
import { checkParamsFit, decodeParams, decodePoints } from '../../core/params-io.js';
import { type ArchSpec, conflict, invalid as invalidArg, notFound } from '../../shared/domain/index.js';
import { ParamSetInUseError } from '../store/index.js';
import { parseArchArg } from '../spec-input.js';
import type { HandlerTable, ServiceContext } from './context.js';

/** The points of a safetensors file: one for a plain parameter file, several for a saved trajectory. */
function decodeAnyPoints(buf: Buffer, what: string): { points: Params[]; metadata: Record<string, string> } {
  const single = decodeParams(buf, what);
  if (single.metadata.points === undefined) return { points: [single.params], metadata: single.metadata };
  disposeParams(single.params);
  return decodePoints(buf, what);
}

/** Why the points do not fit (arch, input, classes), or null; every point must fit. */
function misfit(points: Params[], arch: ArchSpec, inputShape: number[], classes: number): string | null {
  const model = buildModel(arch, inputShape as [number, number, number], classes);
  for (let i = 0; i < points.length; i++) {
    const why = checkParamsFit(model, points[i]!);
    if (why) return points.length > 1 ? `point ${i} ${why}` : why;
  }
  return null;
}

function invalid(field: string, message: string): Error {
  return invalidArg(message, field);
}

export function paramHandlers(
  ctx: ServiceContext,
): HandlerTable<'params.list' | 'params.import' | 'params.check' | 'params.delete'> {
  return {
    'params.list': () => ctx.store.listParamSetsWithLinks(),

    'params.import': async ({ name, data, origin, arch: archArg, inputShape, classes }) => {
      const arch = parseArchArg(archArg);
      const buf = Buffer.from(data, 'base64');
      let decoded: { points: Params[]; metadata: Record<string, string> };
      try {
        decoded = decodeAnyPoints(buf, 'the uploaded file');
      } catch (e) {
        throw invalid('data', (e as Error).message);
      }
      let why: string | null;
      try {
        why = misfit(decoded.points, arch, inputShape, classes);
      } catch (e) {
        throw invalid(
          'arch',
          `cannot build this architecture for input ${inputShape.join('×')} and ${classes} classes: ${(e as Error).message}`,
        );
      } finally {
        for (const p of decoded.points) disposeParams(p);
      }
      if (why) throw invalid('data', `the parameters ${why}`);
      const { sha256, bytes } = await ctx.store.putWeights(buf);
      const seed = Number(decoded.metadata.seed);
      return ctx.store.addParamSet({
        name,
        arch,
        inputShape,
        classes,
        origin,
        seed: Number.isInteger(seed) ? seed : null,
        sha256,
        bytes,
        points: decoded.points.length,
      });
    },

    'params.check': async ({ id, arch: archArg, inputShape, classes }) => {
      const record = ctx.store.getParamSet(id);
      if (!record) throw notFound(`parameter set ${id}`);
      const arch = parseArchArg(archArg);
      let buf: Buffer;
      try {
        buf = await ctx.store.readWeights(record.sha256);
      } catch (e) {
        return { fits: false, reason: (e as Error).message };
      }
      const { points } = decodeAnyPoints(buf, `parameter set ${record.name}`);
      try {
        const why = misfit(points, arch, inputShape, classes);
        return { fits: why === null, reason: why };
      } catch (e) {
        return { fits: false, reason: (e as Error).message };
      } finally {
        for (const p of points) disposeParams(p);
      }
    },

    'params.delete': ({ id }) => {
      if (!ctx.store.getParamSet(id)) throw notFound(`parameter set ${id}`);
      try {
        return { deleted: ctx.store.deleteParamSet(id) };
      } catch (e) {
        if (e instanceof ParamSetInUseError) throw conflict(e.message);
        throw e;
      }
    },
  };
}
