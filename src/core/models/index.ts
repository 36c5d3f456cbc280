import { archLayers, type ArchSpec, type LayerSpec } from '../../shared/domain/index.js';
import type { Model } from './model.js';
import { buildSequential } from './sequential.js';

export type { ApplyOptions, Model, ParamInfo } from './model.js';
export { trainableNames } from './model.js';
/** The layer lists live in the domain, where the resource estimate reads them too. */
export { archLayers, conv8Layers, resnet20Layers } from '../../shared/domain/index.js';

const LAYER_TAG: Record<LayerSpec['type'], (l: LayerSpec) => string> = {
  conv: (l) => `c${(l as { filters: number }).filters}`,
  dense: (l) => `d${(l as { units: number }).units}`,
  maxpool: (l) => `p${(l as { size: number }).size}`,
  flatten: () => 'f',
  bn: () => 'bn',
  residual: (l) =>
    `r${(l as { filters: number }).filters}${(l as { stride?: number }).stride === 2 ? '/2' : ''}`,
  gap: () => 'gap',
};

export function describeArch(arch: ArchSpec, inputShape: [number, number, number], classes: number): string {
  switch (arch.arch) {
    case 'mlp':
      return `MLP ${[inputShape[0] * inputShape[1] * inputShape[2], ...arch.hidden, classes].join('-')}`;
    case 'conv8':
      return `Conv8 (width ${arch.width ?? 64})`;
    case 'cnn':
      return `CNN (${arch.layers.map((l) => LAYER_TAG[l.type](l)).join(' ')})`;
    case 'resnet20':
      return `ResNet-20 (width ${arch.width ?? 1})`;
  }
}

export function buildModel(arch: ArchSpec, inputShape: [number, number, number], classes: number): Model {
  return buildSequential(
    arch,
    archLayers(arch),
    inputShape,
    classes,
    describeArch(arch, inputShape, classes),
  );
}
