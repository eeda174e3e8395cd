import { describeTabScenarios } from 'demo-shared/test-support/tabs';
import { bootDemo } from './support/demo.js';

describeTabScenarios('Express', (dataDir) => bootDemo(dataDir));
