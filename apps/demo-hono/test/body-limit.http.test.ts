/** The Hono demo's 413 page over real HTTP on Node (scenarios shared by the Node demos). */
import { runBodyLimitScenarios } from 'demo-shared/test-support/body-limit';
import { bootHonoDemo } from './support/demo.js';

runBodyLimitScenarios('Hono', (dataDir) => bootHonoDemo(dataDir));
