/** The Hono on Node demo as its own process on Redis and PostgreSQL (SESSION_STORE), and its refused starts. */
import { fileURLToPath } from 'node:url';
import { describeStoreScenarios } from '../../demo-shared/test/store-scenarios.js';

describeStoreScenarios({
  framework: 'Hono on Node',
  cwd: fileURLToPath(new URL('..', import.meta.url)),
  args: () => ['--conditions=@org/source', '--import', 'tsx', 'src/server.ts'],
});
