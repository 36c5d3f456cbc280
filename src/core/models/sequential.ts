import * as tf from '@tensorflow/tfjs';
import type { Params } from '../params.js';
import { makePermutationSpec } from '../permutation.js';
import { deriveSeed, rng } from '../random.js';
import type { ArchSpec, LayerSpec } from '../../shared/domain/index.js';
import type { Model, ParamInfo } from './model.js';

/**
 * Every architecture the lab offers (MLP, Conv8, plain CNN) is a stack of conv / maxpool /
 * flatten / dense layers with ReLU. This builder derives the parameters, the forward pass and the
 * permutation spec from that one list, so the symmetry is declared once, next to the layers.
 *
 * Layout: conv kernels [kh, kw, in, out]; dense kernels [in, out]; a dense layer that reads a
 * flattened conv feature map keeps its kernel as [h, w, c, out] so the channel axis stays
 * addressable by the previous layer's permutation (flattening NHWC puts channels fastest, so a
 * reshape to [h·w·c, out] is the plain dense kernel).
 */

type Op =
  | { kind: 'conv'; name: string; stride: number; relu: boolean }
  | { kind: 'maxpool'; size: number }
  | { kind: 'flatten' }
  | { kind: 'dense'; name: string; relu: boolean; flatIn: number };

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
  const all: LayerSpec[] = [...layers, { type: 'dense', units: classes, relu: false }];

  all.forEach((layer, li) => {
    const last = li === all.length - 1;
    switch (layer.type) {
      case 'conv': {
        if (flat) throw new Error(`layer ${li}: a conv layer cannot follow flatten or dense`);
        const k = layer.kernel ?? 3;
        const stride = layer.stride ?? 1;
        const name = `conv${++convIdx}`;
        const out = layer.filters;
        params.push({ name: `${name}.kernel`, shape: [k, k, c, out], fanIn: k * k * c });
        params.push({ name: `${name}.bias`, shape: [out], fanIn: k * k * c });
        const p = last ? null : `P_${name}`;
        axes[`${name}.kernel`] = [null, null, incoming, p];
        axes[`${name}.bias`] = [p];
        ops.push({ kind: 'conv', name, stride, relu: layer.relu ?? true });
        h = Math.ceil(h / stride);
        w = Math.ceil(w / stride);
        c = out;
        incoming = p;
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
      case 'flatten': {
        if (flat) return;
        ops.push({ kind: 'flatten' });
        flat = true;
        flatFromConv = convIdx > 0;
        return;
      }
      case 'dense': {
        if (!flat) {
          ops.push({ kind: 'flatten' });
          flat = true;
          flatFromConv = convIdx > 0;
        }
        const name = `fc${++fcIdx}`;
        const out = layer.units;
        const p = last ? null : `P_${name}`;
        const fanIn = fcIdx === 1 ? h * w * c : c;
        if (fcIdx === 1 && flatFromConv) {
          params.push({ name: `${name}.kernel`, shape: [h, w, c, out], fanIn });
          axes[`${name}.kernel`] = [null, null, incoming, p];
        } else {
          params.push({ name: `${name}.kernel`, shape: [fanIn, out], fanIn });
          axes[`${name}.kernel`] = [incoming, p];
        }
        params.push({ name: `${name}.bias`, shape: [out], fanIn });
        axes[`${name}.bias`] = [p];
        ops.push({ kind: 'dense', name, relu: last ? false : (layer.relu ?? true), flatIn: fanIn });
        c = out;
        h = 1;
        w = 1;
        incoming = p;
        return;
      }
    }
  });

  const shapes = Object.fromEntries(params.map((p) => [p.name, p.shape]));
  const permSpec = makePermutationSpec(axes, shapes);

  function apply(theta: Params, x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let a: tf.Tensor = x;
      for (const op of ops) {
        switch (op.kind) {
          case 'conv':
            a = tf.add(
              tf.conv2d(a as tf.Tensor4D, theta[`${op.name}.kernel`] as tf.Tensor4D, op.stride, 'same'),
              theta[`${op.name}.bias`],
            );
            if (op.relu) a = tf.relu(a);
            break;
          case 'maxpool':
            a = tf.maxPool(a as tf.Tensor4D, op.size, op.size, 'valid');
            break;
          case 'flatten':
            a = tf.reshape(a, [a.shape[0], -1]);
            break;
          case 'dense': {
            let k = theta[`${op.name}.kernel`];
            if (k.rank !== 2) k = tf.reshape(k, [op.flatIn, -1]);
            a = tf.add(tf.matMul(a as tf.Tensor2D, k as tf.Tensor2D), theta[`${op.name}.bias`]);
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
    // weight, and the bias is U(±1/√fan_in) too. One stream per parameter name keeps a tensor's
    // values independent of which other layers exist.
    const out: Params = {};
    for (const p of params) {
      const r = rng(deriveSeed(seed, `init:${p.name}`));
      const bound = 1 / Math.sqrt(p.fanIn);
      const size = p.shape.reduce((a, b) => a * b, 1);
      out[p.name] = tf.tensor(r.uniform(new Float32Array(size), -bound, bound), p.shape, 'float32');
    }
    return out;
  }

  return { arch, describe, inputShape, classes, params, permSpec, apply, init };
}
