import { fileURLToPath } from 'node:url';
import { describeStorage, exitOnStartupError, readConfig } from 'demo-shared/config';
import { formatDuration } from 'demo-shared/views';
import { startFastifyDemo } from './app.js';

// Its own data folder and port, so it can run next to the Express demo.
// A bad setting or an unreachable store: one line naming the variable, exit code 1.
const config = (() => {
  try {
    return readConfig(process.env, {
      ...(process.env.PORT ? {} : { port: 3001 }),
      ...(process.env.DATA_DIR ? {} : { dataDir: fileURLToPath(new URL('../.data/', import.meta.url)) }),
    });
  } catch (error) {
    return exitOnStartupError(error);
  }
})();
const demo = await startFastifyDemo(config).catch(exitOnStartupError);
console.log(`session demo (Fastify) on ${demo.origin}`);
console.log(`  ${describeStorage(config)}`);
console.log(
  `  timeouts: idle ${formatDuration(config.idleTimeoutMs)}, absolute ${formatDuration(config.absoluteTimeoutMs)}, re-authentication after ${formatDuration(config.reauthAfterMs)}`,
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
