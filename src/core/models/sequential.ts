import * as tf from '@tensorflow/tfjs';
import type { Params } from '../params.js';
import { makePermutationSpec } from '../permutation.js';
import { deriveSeed, rng } from '../random.js';
import type { ArchSpec, LayerSpec } from '../../shared/domain/index.js';
import type { ApplyOptions, Model, ParamInfo } from './model.js';

/**
 * Every architecture the lab offers (MLP, Conv8, plain CNN, ResNet-20) is a list of conv / bn /
 * residual / maxpool / gap / flatten / dense layers with ReLU. This builder derives the parameters,
 * the forward pass and the permutation spec from that one list, so the symmetry is declared once,
 * next to the layers.
 *
 * Layout: conv kernels [kh, kw, in, out]; dense kernels [in, out]; a dense layer that reads a
 * flattened conv feature map keeps its kernel as [h, w, c, out] so the channel axis stays
 * addressable by the previous layer's permutation (flattening NHWC puts channels fastest, so a
 * reshape to [h·w·c, out] is the plain dense kernel).
 *
 * Permutations follow the activations: each conv/dense output gets its own permutation, a
 * BatchNorm layer (scale, shift and running statistics) takes the permutation of what it
 * normalises, and a residual block whose shortcut is the identity shares one permutation across
 * the whole residual stream (Git Re-Basin's resnet20_permutation_spec); a projection shortcut
 * (1×1 conv + BN) starts a new stream.
 */

type Op =
  | { kind: 'conv'; name: string; stride: number; pad: 'same' | number; bias: boolean; relu: boolean }
  | { kind: 'bn'; name: string; relu: boolean }
  | { kind: 'residual'; name: string; stride: number; shortcut: boolean }
  | { kind: 'maxpool'; size: number }
  | { kind: 'gap' }
  | { kind: 'flatten' }
  | { kind: 'dense'; name: string; relu: boolean; flatIn: number };

const BN_EPS = 1e-5;

/** The four tensors of a BatchNorm layer, in PyTorch's order (weight, bias, running mean, running var). */
export const BN_PARTS = ['scale', 'shift', 'mean', 'variance'] as const;

export function buildSequential(
  arch: ArchSpec,
  layers: LayerSpec[],
  inputShape: [number, number, number],
  classes: number,
  describe: string,
): Model {
  let [h, w, c] = inputShape;
  let flat = false; // after flatten: c holds the flattened width for a 2-D kernel input
  let flatFromConv = false;
  const ops: Op[] = [];
  const params: ParamInfo[] = [];
  const axes: Record<string, (string | null)[]> = {};
  /** the permutation acting on the current activations' channel/unit axis */
  let incoming: string | null = null;
  let convIdx = 0;
  let fcIdx = 0;
  let bnIdx = 0;
  let blockIdx = 0;
  /** the ReLU a conv/dense layer hands to the BN that follows it */
  let pendingRelu = false;
  const all: LayerSpec[] = [...layers, { type: 'dense', units: classes, relu: false }];

  const addConv = (name: string, k: number, cin: number, out: number, bias: boolean, p: string | null) => {
    params.push({ name: `${name}.kernel`, shape: [k, k, cin, out], fanIn: k * k * cin });
    axes[`${name}.kernel`] = [null, null, incoming, p];
    if (bias) {
      params.push({ name: `${name}.bias`, shape: [out], fanIn: k * k * cin });
      axes[`${name}.bias`] = [p];
    }
  };
  const addBn = (name: string, n: number, p: string | null) => {
    for (const part of BN_PARTS) {
      const buffer = part === 'mean' || part === 'variance';
      params.push({
        name: `${name}.${part}`,
        shape: [n],
        fanIn: n,
        fill: part === 'scale' || part === 'variance' ? 1 : 0,
        ...(buffer ? { buffer } : {}),
      });
      axes[`${name}.${part}`] = [p];
    }
  };
  const convOut = (size: number, k: number, stride: number, pad: number) =>
    Math.floor((size + 2 * pad - k) / stride) + 1;

  all.forEach((layer, li) => {
    const last = li === all.length - 1;
    // conv/dense → BN → ReLU: a layer followed by BN hands its ReLU to the BN.
    const nextIsBn = all[li + 1]?.type === 'bn';
    switch (layer.type) {
      case 'conv': {
        if (flat) throw new Error(`layer ${li}: a conv layer cannot follow flatten or dense`);
        const k = layer.kernel ?? 3;
        const stride = layer.stride ?? 1;
        const name = `conv${++convIdx}`;
        const out = layer.filters;
        const p = last ? null : `P_${name}`;
        const bias = layer.bias ?? true;
        addConv(name, k, c, out, bias, p);
        const relu = layer.relu ?? true;
        ops.push({ kind: 'conv', name, stride, pad: 'same', bias, relu: relu && !nextIsBn });
        pendingRelu = nextIsBn && relu;
        h = Math.ceil(h / stride);
        w = Math.ceil(w / stride);
        c = out;
        incoming = p;
        return;
      }
      case 'bn': {
        const prev = all[li - 1];
        if (!prev || (prev.type !== 'conv' && prev.type !== 'dense'))
          throw new Error(`layer ${li}: a bn layer must follow a conv or dense layer`);
        const name = `bn${++bnIdx}`;
        addBn(name, c, incoming);
        ops.push({ kind: 'bn', name, relu: pendingRelu });
        pendingRelu = false;
        return;
      }
      case 'residual': {
        if (flat) throw new Error(`layer ${li}: a residual block cannot follow flatten or dense`);
        const name = `block${++blockIdx}`;
        const stride = layer.stride ?? 1;
        const f = layer.filters;
        const shortcut = stride !== 1 || c !== f;
        const inner = `P_${name}.inner`;
        const out = shortcut ? `P_${name}.out` : incoming;
        const streamIn = incoming;
        addConv(`${name}.conv1`, 3, c, f, false, inner);
        addBn(`${name}.bn1`, f, inner);
        incoming = inner;
        addConv(`${name}.conv2`, 3, f, f, false, out);
        addBn(`${name}.bn2`, f, out);
        if (shortcut) {
          incoming = streamIn;
          addConv(`${name}.shortcut.conv`, 1, c, f, false, out);
          addBn(`${name}.shortcut.bn`, f, out);
        }
        ops.push({ kind: 'residual', name, stride, shortcut });
        h = convOut(h, 3, stride, 1);
        w = convOut(w, 3, stride, 1);
        c = f;
        incoming = out;
        return;
      }
      case 'maxpool': {
        if (flat) throw new Error(`layer ${li}: maxpool cannot follow flatten or dense`);
        // A pool larger than the map pools it whole (Conv8's 4×4 pool on 28×28 inputs sees 3×3).
        const size = Math.min(layer.size, h, w);
        ops.push({ kind: 'maxpool', size });
        h = Math.floor(h / size);
        w = Math.floor(w / size);
        return;
      }
      case 'gap': {
        if (flat) throw new Error(`layer ${li}: global average pooling cannot follow flatten or dense`);
        ops.push({ kind: 'gap' });
        h = 1;
        w = 1;
        flat = true;
        flatFromConv = false;
        return;
      }
      case 'flatten': {
        if (flat) return;
        ops.push({ kind: 'flatten' });
        flat = true;
        flatFromConv = convIdx + blockIdx > 0;
        return;
      }
      case 'dense': {
        if (!flat) {
          ops.push({ kind: 'flatten' });
          flat = true;
          flatFromConv = convIdx + blockIdx > 0;
        }
        const name = `fc${++fcIdx}`;
        const out = layer.units;
        const p = last ? null : `P_${name}`;
        const fanIn = fcIdx === 1 ? h * w * c : c;
        if (fcIdx === 1 && flatFromConv) {
          params.push({ name: `${name}.kernel`, shape: [h, w, c, out], fanIn, lowRankGradient: true });
          axes[`${name}.kernel`] = [null, null, incoming, p];
        } else {
          params.push({ name: `${name}.kernel`, shape: [fanIn, out], fanIn, lowRankGradient: true });
          axes[`${name}.kernel`] = [incoming, p];
        }
        params.push({ name: `${name}.bias`, shape: [out], fanIn });
        axes[`${name}.bias`] = [p];
        const relu = last ? false : (layer.relu ?? true);
        ops.push({ kind: 'dense', name, relu: relu && !nextIsBn, flatIn: fanIn });
        pendingRelu = nextIsBn && relu;
        c = out;
        h = 1;
        w = 1;
        incoming = p;
        return;
      }
    }
  });
  if (h < 1 || w < 1)
    throw new Error(`${describe}: the input ${inputShape.join('×')} is too small for these layers`);

  const shapes = Object.fromEntries(params.map((p) => [p.name, p.shape]));
  const buffers = params.filter((p) => p.buffer).map((p) => p.name);
  const permSpec = makePermutationSpec(axes, shapes, buffers);
  const head = [`fc${fcIdx}.kernel`, `fc${fcIdx}.bias`];

  function apply(theta: Params, x: tf.Tensor4D, opts: ApplyOptions = {}): tf.Tensor2D {
    const training = !!opts.training;
    const conv = (a: tf.Tensor, name: string, stride: number, pad: 'same' | number, bias: boolean) => {
      const y = tf.conv2d(a as tf.Tensor4D, theta[`${name}.kernel`] as tf.Tensor4D, stride, pad);
      return bias ? tf.add(y, theta[`${name}.bias`]) : y;
    };
    const bn = (a: tf.Tensor, name: string): tf.Tensor => {
      let mean: tf.Tensor;
      let variance: tf.Tensor;
      if (training) {
        const m = tf.moments(a, a.rank === 4 ? [0, 1, 2] : [0]);
        mean = m.mean;
        variance = m.variance;
        if (opts.batchStats) {
          const count = a.size / a.shape[a.rank - 1];
          // PyTorch keeps the unbiased variance in its running statistics.
          opts.batchStats[`${name}.mean`] = tf.keep(mean.clone());
          opts.batchStats[`${name}.variance`] = tf.keep(tf.mul(variance, count / Math.max(1, count - 1)));
        }
      } else {
        mean = theta[`${name}.mean`];
        variance = theta[`${name}.variance`];
      }
      const inv = tf.mul(tf.rsqrt(tf.add(variance, BN_EPS)), theta[`${name}.scale`]);
      return tf.add(tf.mul(tf.sub(a, mean), inv), theta[`${name}.shift`]);
    };
    return tf.tidy(() => {
      let a: tf.Tensor = x;
      for (const op of ops) {
        switch (op.kind) {
          case 'conv':
            a = conv(a, op.name, op.stride, op.pad, op.bias);
            if (op.relu) a = tf.relu(a);
            break;
          case 'bn':
            a = bn(a, op.name);
            if (op.relu) a = tf.relu(a);
            break;
          case 'residual': {
            // PyTorch pads 3×3 convs by 1 on every side; 'same' would pad a stride-2 conv unevenly.
            let r = tf.relu(bn(conv(a, `${op.name}.conv1`, op.stride, 1, false), `${op.name}.bn1`));
            r = bn(conv(r, `${op.name}.conv2`, 1, 1, false), `${op.name}.bn2`);
            const s = op.shortcut
              ? bn(conv(a, `${op.name}.shortcut.conv`, op.stride, 0, false), `${op.name}.shortcut.bn`)
              : a;
            a = tf.relu(tf.add(r, s));
            break;
          }
          case 'maxpool':
            a = tf.maxPool(a as tf.Tensor4D, op.size, op.size, 'valid');
            break;
          case 'gap':
            a = tf.mean(a, [1, 2]);
            break;
          case 'flatten':
            a = tf.reshape(a, [a.shape[0], -1]);
            break;
          case 'dense': {
            const name = `${op.name}.kernel`;
            let k = theta[name];
            if (k.rank !== 2) k = tf.reshape(k, [op.flatIn, -1]);
            const probe = opts.probes?.[name];
            if (probe && opts.inputs) opts.inputs[name] = tf.keep(a);
            a = tf.add(tf.matMul(a as tf.Tensor2D, k as tf.Tensor2D), theta[`${op.name}.bias`]);
            if (probe) a = tf.add(a, probe);
            if (op.relu) a = tf.relu(a);
            break;
          }
        }
      }
      return a as tf.Tensor2D;
    });
  }

  function init(seed: number): Params {
    // PyTorch's default for Linear and Conv2d: kaiming_uniform(a=√5) gives U(±1/√fan_in) for the
    // weight, and the bias is U(±1/√fan_in) too; BatchNorm starts at weight 1, bias 0, running
    // mean 0, running variance 1. One stream per parameter name keeps a tensor's values
    // independent of which other layers exist.
    const out: Params = {};
    for (const p of params) {
      if (p.fill !== undefined) {
        out[p.name] = tf.fill(p.shape, p.fill, 'float32');
        continue;
      }
      const r = rng(deriveSeed(seed, `init:${p.name}`));
      const bound = 1 / Math.sqrt(p.fanIn);
      const size = p.shape.reduce((a, b) => a * b, 1);
      out[p.name] = tf.tensor(r.uniform(new Float32Array(size), -bound, bound), p.shape, 'float32');
    }
    return out;
  }

  return { arch, describe, inputShape, classes, params, permSpec, buffers, head, apply, init };
}
