import { describeStorage, exitOnStartupError, readConfig } from 'demo-shared/config';
import { formatDuration } from 'demo-shared/views';
import { startHonoDemo } from './node.js';

// A bad setting or an unreachable store: one line naming the variable, exit code 1.
const config = (() => {
  try {
    return readConfig({ PORT: '3002', ...process.env });
  } catch (error) {
    return exitOnStartupError(error);
  }
})();
const demo = await startHonoDemo(config).catch(exitOnStartupError);
console.log(`session demo (Hono on Node) on ${demo.origin}`);
console.log(`  ${describeStorage(config)}`);
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
