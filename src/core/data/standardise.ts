/**
 * Per-channel standardisation of uint8 HWC images. Statistics come from a 256-bin histogram per
 * channel, so they are exact (float64) and cost one pass over the bytes.
 */

export interface ChannelStats {
  mean: number[];
  std: number[];
}

/** Mean and (population) std of the [0,1] pixels of the images at `indices`, per channel. */
export function channelStats(
  images: Uint8Array,
  indices: ArrayLike<number>,
  imageSize: number,
  channels: number,
): ChannelStats {
  const hist = new Float64Array(256 * channels);
  for (let k = 0; k < indices.length; k++) {
    const base = indices[k]! * imageSize;
    for (let p = 0; p < imageSize; p++) hist[(p % channels) * 256 + images[base + p]!]!++;
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let count = 0;
    let sum = 0;
    for (let v = 0; v < 256; v++) {
      const h = hist[c * 256 + v]!;
      count += h;
      sum += h * (v / 255);
    }
    const m = count > 0 ? sum / count : 0;
    let sq = 0;
    for (let v = 0; v < 256; v++) {
      const d = v / 255 - m;
      sq += hist[c * 256 + v]! * d * d;
    }
    mean.push(m);
    std.push(count > 0 ? Math.sqrt(sq / count) : 0);
  }
  return { mean, std };
}

/**
 * The images at `indices`, gathered into one float32 block of (x/255 − mean)/std. A channel with
 * zero spread (a blank border in a tiny subset) is only centred, not divided by zero.
 */
export function gatherStandardised(
  images: Uint8Array,
  indices: ArrayLike<number>,
  imageSize: number,
  channels: number,
  stats: ChannelStats,
): Float32Array {
  const lut = new Float32Array(256 * channels);
  for (let c = 0; c < channels; c++) {
    const s = stats.std[c]! > 1e-12 ? stats.std[c]! : 1;
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - stats.mean[c]!) / s;
  }
  const out = new Float32Array(indices.length * imageSize);
  for (let k = 0; k < indices.length; k++) {
    const src = indices[k]! * imageSize;
    const dst = k * imageSize;
    if (channels === 1) {
      for (let p = 0; p < imageSize; p++) out[dst + p] = lut[images[src + p]!]!;
    } else {
      for (let p = 0; p < imageSize; p++) out[dst + p] = lut[(p % channels) * 256 + images[src + p]!]!;
    }
  }
  return out;
}
