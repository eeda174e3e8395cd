import { readConfig } from 'demo-shared/config';
import { formatDuration } from 'demo-shared/views';
import { startExpressDemo } from './app.js';

const config = readConfig(process.env);
const demo = await startExpressDemo(config);
const idle = formatDuration(config.idleTimeoutMs);
const absolute = formatDuration(config.absoluteTimeoutMs);
console.log(`session demo (Express) on ${demo.origin}`);
console.log(`  store: ${config.store}${config.store === 'sqlite' ? ` in ${config.dataDir}` : ''}`);
console.log(
  `  timeouts: idle ${idle}, absolute ${absolute}, re-authentication after ${formatDuration(config.reauthAfterMs)}`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    demo.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
