import type { Clock } from '@org/session-core';
import { type DemoConfig, readConfig } from 'demo-shared/config';
import { type RunningHonoDemo, startHonoDemo } from '../../src/node.js';

export { makeDataDir, removeDataDir } from 'demo-shared/test-support/data-dir';

/** Boots the real Hono demo on Node, on 127.0.0.1 on an ephemeral port, on its own data folder. */
export function bootHonoDemo(
  dataDir: string,
  overrides: Partial<DemoConfig> = {},
  clock?: Clock,
): Promise<RunningHonoDemo> {
  const config = readConfig({}, { port: 0, host: '127.0.0.1', dataDir, ...overrides });
  return startHonoDemo(config, { clock });
}
