// Child-process entry: the gateway exactly as `sharp-eyes serve` runs it (configuration from SE_* variables,
// SIGTERM flushes and exits 0), except that the web UI is served from SE_BENCH_WEB_ROOT — a build of the
// current web/ source made by the benchmark — instead of web/dist, which other people's builds may own.
import { distImport } from './paths.mjs';

const webRoot = process.env.SE_BENCH_WEB_ROOT;
if (!webRoot) {
  process.stderr.write('web-gateway-child: SE_BENCH_WEB_ROOT is not set\n');
  process.exit(2);
}
const { loadConfig } = await distImport('config/load-config.js');
const { startGateway } = await distImport('app.js');
const gateway = await startGateway(loadConfig({ env: process.env }), { webRoot });
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    gateway.close().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`web-gateway-child: shutdown failed: ${err?.stack ?? err}\n`);
        process.exit(1);
      },
    );
  });
}
