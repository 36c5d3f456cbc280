/** Base64 without Node's Buffer: the renderer runs in a browser. Chunked to keep big bundles fast. */
export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    bin += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + chunk)));
  }
  return btoa(bin);
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * A dataset sample (HWC uint8, 1 or 3 channels) as RGBA for ImageData; channels other than 1 and
 * 3 use the first channel as grey.
 */
export function samplePixelsToRgba(
  pixels: Uint8Array,
  height: number,
  width: number,
  channels: number,
): Uint8ClampedArray {
  const n = height * width;
  if (pixels.length < n * channels)
    throw new RangeError(
      `sample has ${pixels.length} bytes, expected ${n * channels} for ${height}×${width}×${channels}`,
    );
  const out = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    if (channels === 3) {
      out[o] = pixels[i * 3];
      out[o + 1] = pixels[i * 3 + 1];
      out[o + 2] = pixels[i * 3 + 2];
    } else {
      const g = pixels[i * channels];
      out[o] = g;
      out[o + 1] = g;
      out[o + 2] = g;
    }
    out[o + 3] = 255;
  }
  return out;
}

/** A file name safe on every OS: no separators, control or reserved characters. */
export function safeFileName(name: string, fallback = 'export'): string {
  const s = name
    // eslint-disable-next-line no-control-regex -- control characters are what this removes
    .replace(/[\u0000-\u001f<>:"/\\|?*]+/g, '-')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[.-]+|[.\s]+$/g, '')
    .slice(0, 120);
  return s || fallback;
}
