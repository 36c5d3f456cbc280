import { basename, resolve } from 'node:path';
import type { ArchSpec, DatasetSpec } from '../../shared/domain/index.js';

/**
 * Short names for a spec's dataset and architecture, stored as columns so the history table can
 * search and filter on them without parsing every spec. The dataset name follows the engine's
 * own naming (src/core/data/load.ts) so the table and the engine's logs agree.
 */
export function datasetLabel(spec: DatasetSpec): string {
  if ('builtin' in spec) return spec.builtin;
  if (spec.format === 'idx') return spec.name ?? basename(resolve(spec.dir));
  if (spec.name) return spec.name;
  if (spec.format === 'cifar10') return 'cifar10';
  return spec.labelKind === 'coarse' ? 'cifar100-coarse' : 'cifar100';
}

/** The dataset spec's format and where it loads from, for the datasets table. */
export function datasetLocation(spec: DatasetSpec): { format: string; location: string } {
  if ('builtin' in spec) return { format: 'builtin', location: spec.builtin };
  return { format: spec.format, location: spec.dir };
}

export function archLabel(arch: ArchSpec): string {
  switch (arch.arch) {
    case 'mlp':
      return `MLP ${arch.hidden.join('-')}`;
    case 'conv8':
      return `Conv8 (width ${arch.width ?? 64})`;
    case 'cnn':
      return `CNN (${arch.layers.map((l) => (l.type === 'conv' ? `c${l.filters}` : l.type === 'dense' ? `d${l.units}` : l.type === 'maxpool' ? `p${l.size}` : l.type === 'residual' ? `r${l.filters}` : l.type === 'flatten' ? 'f' : l.type)).join(' ')})`;
    case 'resnet20':
      return `ResNet-20 (width ${arch.width ?? 1})`;
  }
}
