// `pnpm --filter demo-hono start:worker`: the Worker variant in workerd (miniflare), on local D1.
import { readConfig } from 'demo-shared/config';
import { formatDuration } from 'demo-shared/views';
import { startWorkerDemo } from './worker-node.js';

const config = readConfig({ PORT: '3003', ...process.env });
const demo = await startWorkerDemo({
  dataDir: config.dataDir,
  port: config.port,
  idleTimeoutMs: config.idleTimeoutMs,
  absoluteTimeoutMs: config.absoluteTimeoutMs,
  reauthAfterMs: config.reauthAfterMs,
});
console.log(`session demo (Hono in a Worker, workerd ${demo.workerdVersion}) on ${demo.origin}`);
console.log(`  store: D1 (miniflare, local) in ${config.dataDir}/d1`);
console.log(
  `  timeouts: idle ${formatDuration(config.idleTimeoutMs)}, absolute ${formatDuration(config.absoluteTimeoutMs)}, re-authentication after ${formatDuration(config.reauthAfterMs)}`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    demo.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
