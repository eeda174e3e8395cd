import { describeStorage, exitOnStartupError, readConfig } from 'demo-shared/config';
import { formatDuration } from 'demo-shared/views';
import { startExpressDemo } from './app.js';

// A bad setting or an unreachable store: one line naming the variable, exit code 1.
const config = (() => {
  try {
    return readConfig(process.env);
  } catch (error) {
    return exitOnStartupError(error);
  }
})();
const demo = await startExpressDemo(config).catch(exitOnStartupError);
const idle = formatDuration(config.idleTimeoutMs);
const absolute = formatDuration(config.absoluteTimeoutMs);
console.log(`session demo (Express) on ${demo.origin}`);
console.log(`  ${describeStorage(config)}`);
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
