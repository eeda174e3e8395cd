import type { Clock } from '@org/session-core';
import { type DemoConfig, readConfig } from 'demo-shared/config';
import { type RunningDemo, startExpressDemo } from '../../src/app.js';

export { makeDataDir, removeDataDir } from 'demo-shared/test-support/data-dir';

/**
 * Boots the real demo on 127.0.0.1 on an ephemeral port, with the given data folder, settings and
 * (optionally) a test clock. The browser reaches it as `demo.origin` (http://localhost:<port>).
 */
export function bootDemo(dataDir: string, overrides: Partial<DemoConfig> = {}, clock?: Clock): Promise<RunningDemo> {
  const config = readConfig({}, { port: 0, host: '127.0.0.1', dataDir, ...overrides });
  return startExpressDemo(config, { clock });
}
