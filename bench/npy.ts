/** An array in NumPy's .npy format (version 1.0, C order, little-endian), for the Python baselines. */
export function npy(a: Float64Array | Float32Array | BigInt64Array, shape: number[]): Buffer {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1)
    throw new Error('the npy writer assumes a little-endian machine');
  const descr = a instanceof Float64Array ? '<f8' : a instanceof Float32Array ? '<f4' : '<i8';
  const dims = shape.join(', ') + (shape.length === 1 ? ',' : '');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(10 + header.length);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  head.write(header, 10, 'latin1');
  return Buffer.concat([head, Buffer.from(a.buffer, a.byteOffset, a.byteLength)]);
}
