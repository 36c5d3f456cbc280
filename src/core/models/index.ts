import type { ArchSpec, LayerSpec } from '../../shared/domain/index.js';
import type { Model } from './model.js';
import { buildSequential } from './sequential.js';

export type { Model, ParamInfo } from './model.js';

/**
 * Conv8 as in the authors' code: four blocks of two 3×3 convs, max-pools 2,2,2,4, then a head of
 * 1×1 layers 512→256→256→classes. `width` scales every layer (64 is the paper's).
 */
export function conv8Layers(width = 64): LayerSpec[] {
  const conv = (f: number): LayerSpec => ({ type: 'conv', filters: f, kernel: 3 });
  return [
    conv(width),
    conv(width),
    { type: 'maxpool', size: 2 },
    conv(2 * width),
    conv(2 * width),
    { type: 'maxpool', size: 2 },
    conv(4 * width),
    conv(4 * width),
    { type: 'maxpool', size: 2 },
    conv(8 * width),
    conv(8 * width),
    { type: 'maxpool', size: 4 },
    { type: 'flatten' },
    { type: 'dense', units: 4 * width },
    { type: 'dense', units: 4 * width },
  ];
}

export function archLayers(arch: ArchSpec): LayerSpec[] {
  switch (arch.arch) {
    case 'mlp':
      return [{ type: 'flatten' }, ...arch.hidden.map((units): LayerSpec => ({ type: 'dense', units }))];
    case 'conv8':
      return conv8Layers(arch.width);
    case 'cnn':
      return arch.layers;
  }
}

export function describeArch(arch: ArchSpec, inputShape: [number, number, number], classes: number): string {
  switch (arch.arch) {
    case 'mlp':
      return `MLP ${[inputShape[0] * inputShape[1] * inputShape[2], ...arch.hidden, classes].join('-')}`;
    case 'conv8':
      return `Conv8 (width ${arch.width ?? 64})`;
    case 'cnn':
      return `CNN (${arch.layers.map((l) => (l.type === 'conv' ? `c${l.filters}` : l.type === 'dense' ? `d${l.units}` : l.type === 'maxpool' ? `p${l.size}` : 'f')).join(' ')})`;
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
