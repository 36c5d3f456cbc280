/**
 * Which links the desktop hands to the user's browser (issue 8, item 10): https, and only to the
 * hosts the app links to (the paper, the code, the file format). Anything else is dropped, so a
 * page that got script into the renderer cannot use shell.openExternal to open arbitrary URLs or
 * schemes. Pure, so it is tested without Electron.
 */
export const EXTERNAL_HOSTS: readonly string[] = [
  'arxiv.org',
  'openreview.net',
  'github.com',
  'huggingface.co',
  'pytorch.org',
  'www.tensorflow.org',
];

export function externalLinkAllowed(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return u.protocol === 'https:' && !u.username && !u.password && EXTERNAL_HOSTS.includes(u.hostname);
}
