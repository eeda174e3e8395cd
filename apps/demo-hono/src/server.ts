import { readConfig } from 'demo-shared/config';
import { formatDuration } from 'demo-shared/views';
import { startHonoDemo } from './node.js';

const config = readConfig({ PORT: '3002', ...process.env });
const demo = await startHonoDemo(config);
console.log(`session demo (Hono on Node) on ${demo.origin}`);
console.log(`  store: ${config.store}${config.store === 'sqlite' ? ` in ${config.dataDir}` : ''}`);
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
