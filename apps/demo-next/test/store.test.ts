/** The Next demo (`next start`) on Redis and PostgreSQL (SESSION_STORE), and its refused starts. */
import { describeStoreScenarios } from '../../demo-shared/test/store-scenarios.js';
import { nextLauncher } from './next-store-launcher.js';

describeStoreScenarios(nextLauncher);
