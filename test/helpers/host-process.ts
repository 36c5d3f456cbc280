/**
 * A headless host in its own process, for tests that kill the host: prints one JSON line
 * { url, port, token, pid } on stdout once it listens. argv: <dataDir>.
 */
import { startHeadless } from '../../src/services/host/headless.js';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: host-process.ts <dataDir>');
const lab = await startHeadless({ dataDir, probeBackend: false, appVersion: 'test', rendererDir: dataDir });
process.stdout.write(
  JSON.stringify({ url: lab.server.url, port: lab.server.port, token: lab.server.token, pid: process.pid }) +
    '\n',
);
const stop = (): void => {
  void lab.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
