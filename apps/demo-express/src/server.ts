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

// \`on\`, not \`once\`: pnpm forwards a Ctrl-C to the demo again, and a second SIGINT with no listener
// would kill the process mid-close (and pnpm would print a failure banner).
let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    demo.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
