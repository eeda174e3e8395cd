import { describeTabScenarios } from 'demo-shared/test-support/tabs';
import { bootHonoDemo } from './support/demo.js';

describeTabScenarios('Hono', (dataDir) => bootHonoDemo(dataDir));
