import * as tf from '@tensorflow/tfjs';

type Shape4 = [number, number, number, number];

/** Geometry of an NHWC, undilated conv — what both gradient kernels below are built from. */
function nhwcConvInfo(
  inputShape: Shape4,
  filterShape: Shape4,
  attrs: Pick<tf.Conv2DBackpropFilterAttrs, 'strides' | 'pad' | 'dimRoundingMode'>,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    inputShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/**
 * Repairs to @tensorflow/tfjs-backend-wasm 4.22 that make training on it fast or possible at all
 * (what each repair buys is measured by `npm run bench`, bench/training.ts):
 *
 * - BatchMatMul / _FusedMatMul with transposeA or transposeB leave XNNPACK's fast path for a
 *   naive loop, 20–40× slower; every dense layer's backward pass uses exactly those
 *   (dW = xᵀ·dy, dx = dy·Wᵀ). Transposing explicitly first costs one memory pass.
 * - There is no Conv2DBackpropFilter, so the gradient of any conv net throws. The one built here
 *   is a single Conv2D (XNNPACK) over transposed operands; the wasm Conv3DBackpropFilterV2 could
 *   stand in but is a naive loop (~0.2 GFLOP/s).
 * - Conv2DBackpropInput exists but is a plain loop, ~10× slower than Conv2D; it becomes a Conv2D.
 * - Identity deep-copies, and the engine clones every tensor it keeps for the backward pass.
 * - _FusedMatMul with a bias gets every matrix after the first wrong when batched.
 *
 * Every replacement is built only from the wasm backend's own kernel functions, called directly
 * (as tfjs kernels call each other), so no tensor is created outside the engine's bookkeeping.
 */

type Backend = tf.KernelBackend;
type Info = tf.TensorInfo;
type KernelFunc = (args: {
  inputs: Record<string, Info | undefined>;
  backend: Backend;
  attrs?: Record<string, unknown>;
}) => Info;

const PATCHED = Symbol.for('trajectory-lab.wasm-kernels');

function wasmKernel(name: string): KernelFunc {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`the wasm backend has no ${name} kernel; is @tensorflow/tfjs-backend-wasm loaded?`);
  return k.kernelFunc as unknown as KernelFunc;
}

/** Swaps the last two axes: the explicit transpose that keeps a matMul on XNNPACK's fast path. */
function transposeLast2(x: Info, backend: Backend): Info {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return wasmKernel('Transpose')({ inputs: { x }, backend, attrs: { perm } });
}

const size = (t: Info): number => t.shape.reduce((a, b) => a * b, 1);

/**
 * Wraps a matmul kernel so that it is only ever called with transposeA = transposeB = false.
 * C = op(A)·op(B) is computed either as written, with the transposed operands made explicit, or
 * as (op(B)ᵀ·op(A)ᵀ)ᵀ, which transposes the other operands and the result instead; whichever moves
 * fewer elements. In an MLP's backward pass that picks xᵀ·dh for the first layer's kernel
 * gradient ([784,128] made explicit) and (dlogitsᵀ·h)ᵀ for the last one (h is [128,4096], the
 * result only [4096,10]).
 */
function untransposed(
  original: KernelFunc,
  allowSwap: (args: Parameters<KernelFunc>[0]) => boolean,
): KernelFunc {
  return (args) => {
    const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    const ta = !!attrs.transposeA;
    const tb = !!attrs.transposeB;
    if (!ta && !tb) return original(args);
    const { backend } = args;
    const a = args.inputs.a!;
    const b = args.inputs.b!;
    const plain = { ...attrs, transposeA: false, transposeB: false };
    const rows = a.shape[a.shape.length - (ta ? 1 : 2)];
    const cols = b.shape[b.shape.length - (tb ? 2 : 1)];
    const batch = Math.max(
      size(a) / (a.shape[a.shape.length - 1] * a.shape[a.shape.length - 2]),
      size(b) / (b.shape[b.shape.length - 1] * b.shape[b.shape.length - 2]),
    );
    const direct = (ta ? size(a) : 0) + (tb ? size(b) : 0);
    const swapped = (ta ? 0 : size(a)) + (tb ? 0 : size(b)) + batch * rows * cols;
    const temps: Info[] = [];
    const keep = (t: Info): Info => (temps.push(t), t);
    try {
      if (swapped < direct && allowSwap(args)) {
        const bt = tb ? b : keep(transposeLast2(b, backend));
        const at = ta ? a : keep(transposeLast2(a, backend));
        const ct = keep(original({ inputs: { ...args.inputs, a: bt, b: at }, backend, attrs: plain }));
        return transposeLast2(ct, backend);
      }
      const inputs = { ...args.inputs };
      if (ta) inputs.a = keep(transposeLast2(a, backend));
      if (tb) inputs.b = keep(transposeLast2(b, backend));
      return original({ inputs, backend, attrs: plain });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

const ACTIVATIONS: Record<string, string | null> = {
  linear: null,
  relu: 'Relu',
  relu6: 'Relu6',
  elu: 'Elu',
  sigmoid: 'Sigmoid',
  prelu: 'Prelu',
  leakyrelu: 'LeakyRelu',
};

/**
 * The wasm _FusedMatMul adds the bias wrongly when the output has more than one matrix (batch
 * > 1): every matrix after the first is off. There the bias and activation run as separate
 * kernels after the (correct) unbiased product.
 */
function batchSafeFused(fused: KernelFunc): KernelFunc {
  return (args) => {
    const { backend } = args;
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const attrs = (args.attrs ?? {}) as { activation?: string; leakyreluAlpha?: number };
    const batch = Math.max(a!.shape[0], b!.shape[0]);
    if (!bias || a!.shape.length < 3 || batch === 1) return fused(args);
    const act = attrs.activation ?? 'linear';
    if (!(act in ACTIVATIONS)) return fused(args);
    const temps: Info[] = [];
    try {
      const product = fused({ inputs: { a, b }, backend, attrs: { ...attrs, activation: 'linear' } });
      temps.push(product);
      const biased = wasmKernel('Add')({ inputs: { a: product, b: bias }, backend });
      const kernel = ACTIVATIONS[act];
      if (!kernel) return biased;
      temps.push(biased);
      if (kernel === 'Prelu')
        return wasmKernel(kernel)({ inputs: { x: biased, alpha: preluActivationWeights }, backend });
      if (kernel === 'LeakyRelu')
        return wasmKernel(kernel)({
          inputs: { x: biased },
          backend,
          attrs: { alpha: attrs.leakyreluAlpha ?? 0.2 },
        });
      return wasmKernel(kernel)({ inputs: { x: biased }, backend });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

/**
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s+kh−pt, ow·s+kw−pl, ci] · dy[n,oh,ow,co]
 *
 * Read with ci as the batch axis, n as the input-channel axis and dy as a filter of size
 * OH×OW dilated by the stride, that is one stride-1 convolution:
 *   X' = x transposed to [C, H, W, N], F' = dy transposed to [OH, OW, N, CO],
 *   conv2d(X', F', stride 1, dilation s, explicit padding) = [C, KH', KW', CO],
 * of which the first KH×KW positions are dW (transposed back to [KH, KW, C, CO]).
 */
function conv2DBackpropFilter(args: Parameters<KernelFunc>[0]): Info {
  const { backend } = args;
  const x = args.inputs.x!;
  const dy = args.inputs.dy!;
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
  const [kh, kw, inC, outC] = attrs.filterShape;
  const info = nhwcConvInfo(x.shape as Shape4, attrs.filterShape, attrs);
  const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  if (dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== outC || x.shape[3] !== inC) {
    throw new Error(
      `Conv2DBackpropFilter: dy ${dy.shape} does not match x ${x.shape} and filter ${attrs.filterShape}`,
    );
  }
  const [, h, w] = x.shape;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // rows the convolution must reach: (oh−1)·sh + kh, counted from the padded top
  const bottom = Math.max(0, (oh - 1) * sh + kh - h - top);
  const right = Math.max(0, (ow - 1) * sw + kw - w - left);

  const transpose = wasmKernel('Transpose');
  const temps: Info[] = [];
  try {
    const xt = transpose({ inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } });
    temps.push(xt);
    const ft = transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } });
    temps.push(ft);
    let conv = wasmKernel('Conv2D')({
      inputs: { x: xt, filter: ft },
      backend,
      attrs: {
        strides: [1, 1],
        pad: [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [sh, sw],
        dimRoundingMode: undefined,
      },
    });
    temps.push(conv);
    // 'valid' padding can leave input rows no output reads; the convolution then runs past kh.
    if (conv.shape[1] !== kh || conv.shape[2] !== kw) {
      conv = wasmKernel('Slice')({
        inputs: { x: conv },
        backend,
        attrs: { begin: [0, 0, 0, 0], size: [inC, kh, kw, outC] },
      });
      temps.push(conv);
    }
    return transpose({ inputs: { x: conv }, backend, attrs: { perm: [1, 2, 0, 3] } });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/**
 * dx[n,i,j,ci] = Σ_{oh,ow,kh,kw : oh·s+kh−pt = i, …} dy[n,oh,ow,co] · W[kh,kw,ci,co]
 *
 * that is a stride-1 convolution of dy — dilated by the stride (s−1 zeros after every element)
 * — with W flipped in space and its channel axes swapped, padded by kh−1−pt on top. The wasm
 * backend's own Conv2DBackpropInput is a plain loop (~0.8 GFLOP/s against ~10 for Conv2D);
 * explicit padding it cannot express (pt > kh−1) goes back to it.
 */
function conv2DBackpropInput(original: KernelFunc): KernelFunc {
  return (args) => {
    const { backend } = args;
    const dy = args.inputs.dy!;
    const filter = args.inputs.filter!;
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    if (attrs.dataFormat === 'NCHW') return original(args);
    const [n, h, w, inC] = attrs.inputShape;
    const [kh, kw, , outC] = filter.shape;
    const info = nhwcConvInfo(attrs.inputShape, filter.shape as Shape4, attrs);
    const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
    const top = kh - 1 - info.padInfo.top;
    const left = kw - 1 - info.padInfo.left;
    if (top < 0 || left < 0) return original(args);

    const temps: Info[] = [];
    const keep = (t: Info): Info => (temps.push(t), t);
    try {
      let d = dy;
      if (sh > 1 || sw > 1) {
        const r = keep(
          wasmKernel('Reshape')({ inputs: { x: dy }, backend, attrs: { shape: [n, oh, 1, ow, 1, outC] } }),
        );
        const paddings = [
          [0, 0],
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0],
        ];
        const p = keep(
          wasmKernel('PadV2')({ inputs: { x: r }, backend, attrs: { paddings, constantValue: 0 } }),
        );
        d = keep(
          wasmKernel('Reshape')({ inputs: { x: p }, backend, attrs: { shape: [n, oh * sh, ow * sw, outC] } }),
        );
      }
      // enough rows below for h outputs; the dilation's trailing zeros may already reach past them
      const bottom = Math.max(0, h + kh - 1 - top - oh * sh);
      const right = Math.max(0, w + kw - 1 - left - ow * sw);
      const flipped = keep(
        wasmKernel('Reverse')({ inputs: { x: filter }, backend, attrs: { dims: [0, 1] } }),
      );
      const wf = keep(
        wasmKernel('Transpose')({ inputs: { x: flipped }, backend, attrs: { perm: [0, 1, 3, 2] } }),
      );
      const conv = wasmKernel('Conv2D')({
        inputs: { x: d, filter: wf },
        backend,
        attrs: {
          strides: [1, 1],
          pad: [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [1, 1],
          dimRoundingMode: undefined,
        },
      });
      if (conv.shape[1] === h && conv.shape[2] === w) return conv;
      keep(conv);
      return wasmKernel('Slice')({
        inputs: { x: conv },
        backend,
        attrs: { begin: [0, 0, 0, 0], size: [n, h, w, inC] },
      });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

/**
 * The wasm Identity copies its input. The engine clones (Identity) every tensor it saves for the
 * backward pass, so each training step copied the activations and weights it differentiates
 * (the 784×4096 kernel included). Tensors are immutable, so sharing the buffer under a reference
 * count is enough — what the cpu backend's Identity and the wasm Reshape already do.
 */
function sharedIdentity(original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs.x!;
    if (x.dtype === 'string') return original(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

interface Registration {
  original: tf.KernelConfig | undefined;
  repaired: tf.KernelConfig;
}

/** The kernels as tfjs-backend-wasm registered them and as repaired here, for toggling. */
const registrations = new Map<string, Registration>();

function register(config: tf.KernelConfig | undefined, name: string): void {
  if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  if (config) tf.registerKernel(config);
}

function repair(name: string, make: (original: KernelFunc | undefined) => KernelFunc): void {
  const original = tf.getKernel(name, 'wasm');
  // Keep the original setupFunc: it binds the wasm function the wrapped kernel still calls.
  const repaired: tf.KernelConfig = {
    kernelName: name,
    backendName: 'wasm',
    setupFunc: original?.setupFunc,
    disposeFunc: original?.disposeFunc,
    kernelFunc: make(original?.kernelFunc as unknown as KernelFunc | undefined) as unknown as tf.KernelFunc,
  };
  registrations.set(name, { original, repaired });
  register(repaired, name);
}

const required = (name: string, k: KernelFunc | undefined): KernelFunc => {
  if (!k) throw new Error(`the wasm backend has no ${name} kernel; is @tensorflow/tfjs-backend-wasm loaded?`);
  return k;
};

/**
 * Installs the repaired kernels; idempotent. Call after importing @tensorflow/tfjs-backend-wasm
 * and before or after `tf.setBackend('wasm')` (the setup functions run again on every switch).
 */
export function registerWasmKernels(): void {
  const g = globalThis as { [PATCHED]?: boolean };
  if (g[PATCHED]) return;
  repair('BatchMatMul', (k) => untransposed(required('BatchMatMul', k), () => true));
  // a bias runs along the result's last axis, so the transposed-result route is out with one
  repair('_FusedMatMul', (k) =>
    batchSafeFused(
      untransposed(
        required('_FusedMatMul', k),
        (args) => !args.inputs.bias && !args.inputs.preluActivationWeights,
      ),
    ),
  );
  repair('Identity', (k) => sharedIdentity(required('Identity', k)));
  repair('Conv2DBackpropInput', (k) => conv2DBackpropInput(required('Conv2DBackpropInput', k)));
  // a later tfjs-backend-wasm may bring its own
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm'))
    repair('Conv2DBackpropFilter', () => conv2DBackpropFilter);
  g[PATCHED] = true;
}

/**
 * Switches between the repaired kernels and tfjs-backend-wasm's own (without them there is no
 * Conv2DBackpropFilter). Only for benchmarks that show what the repairs are worth.
 */
export function useWasmKernelRepairs(on: boolean): void {
  registerWasmKernels();
  for (const [name, r] of registrations) register(on ? r.repaired : r.original, name);
}
