import { describeTabScenarios } from 'demo-shared/test-support/tabs';
import { bootFastifyDemo } from './support/demo.js';

describeTabScenarios('Fastify', (dataDir) => bootFastifyDemo(dataDir));
