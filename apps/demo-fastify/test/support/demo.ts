import type { Clock } from '@org/session-core';
import { type DemoConfig, readConfig } from 'demo-shared/config';
import { type RunningFastifyDemo, startFastifyDemo } from '../../src/app.js';

/** Boots the real Fastify demo on 127.0.0.1 on an ephemeral port, on its own data folder. */
export function bootFastifyDemo(
  dataDir: string,
  overrides: Partial<DemoConfig> = {},
  clock?: Clock,
): Promise<RunningFastifyDemo> {
  const config = readConfig({}, { port: 0, host: '127.0.0.1', dataDir, ...overrides });
  return startFastifyDemo(config, { clock });
}
