/**
 * Checks a WebSocket frame before JSON.parse sees it (issue 8, item 7): a 2 MB frame nested a
 * million levels deep froze the event loop for seconds in the parser and the validators after it.
 * One linear pass over the bytes measures the nesting (brackets inside strings do not count), and
 * only the requests that carry a bundle or a parameter file may be large.
 */

/** Deeper than any request of the API needs (a spec nests about 6 levels). */
export const MAX_FRAME_DEPTH = 64;
/** Every request but an upload fits easily (a spec with 1000 targets is ~50 KB). */
export const MAX_SMALL_FRAME = 4 * 1024 * 1024;
/** The requests that carry base64 uploads, and so may be as large as the socket allows. */
const UPLOADS = ['bundles.import', 'params.import'];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/** Why the frame is refused before parsing, or null. */
export function frameProblem(data: Buffer, maxDepth = MAX_FRAME_DEPTH): string | null {
  if (data.length > MAX_SMALL_FRAME) {
    // The client writes kind, id, name first: an upload names itself in the first bytes.
    const head = data.subarray(0, 256).toString('latin1');
    if (!UPLOADS.some((n) => head.includes(`"name":"${n}"`)))
      return `frame of ${data.length} bytes; only ${UPLOADS.join(' and ')} may exceed ${MAX_SMALL_FRAME}`;
  }
  let depth = 0;
  let inString = false;
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) return `nested deeper than ${maxDepth} levels`;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return null;
}
