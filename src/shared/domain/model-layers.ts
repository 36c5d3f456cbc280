/**
 * The named architectures as the layer lists every part of the lab reads: the engine builds its
 * forward pass and permutation spec from them, the resource estimate counts their parameters and
 * work. One list per architecture, so the estimate cannot drift from what is built.
 */
import type { ArchSpec, LayerSpec } from './spec/types.js';

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

/**
 * ResNet-20 for CIFAR (He et al. 2016, Sec. 4.2): a 3×3 conv + BN stem, three stages of three basic
 * blocks with 16·w, 32·w, 64·w channels (stride 2 at the start of stages 2 and 3, where a 1×1 conv
 * + BN projects the shortcut), global average pooling, then the classifier. Convs have no bias.
 */
export function resnet20Layers(width = 1): LayerSpec[] {
  const stage = (f: number, stride: number): LayerSpec[] => [
    { type: 'residual', filters: f, stride },
    { type: 'residual', filters: f },
    { type: 'residual', filters: f },
  ];
  return [
    { type: 'conv', filters: 16 * width, kernel: 3, bias: false },
    { type: 'bn' },
    ...stage(16 * width, 1),
    ...stage(32 * width, 2),
    ...stage(64 * width, 2),
    { type: 'gap' },
  ];
}

/** An architecture's layers before the classifier (which every model appends). */
export function archLayers(arch: ArchSpec): LayerSpec[] {
  switch (arch.arch) {
    case 'mlp':
      return [{ type: 'flatten' }, ...arch.hidden.map((units): LayerSpec => ({ type: 'dense', units }))];
    case 'conv8':
      return conv8Layers(arch.width);
    case 'cnn':
      return arch.layers;
    case 'resnet20':
      return resnet20Layers(arch.width);
  }
}
