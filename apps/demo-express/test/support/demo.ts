import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '@org/session-core';
import { type RunningDemo, startExpressDemo } from '../../src/app.js';
import { type DemoConfig, readConfig } from '../../src/shared/config.js';

/** A fresh data folder for one test file, removed by the caller with `removeDataDir`. */
export function makeDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'demo-express-'));
}

export function removeDataDir(dataDir: string): void {
  rmSync(dataDir, { recursive: true, force: true });
}

/**
 * Boots the real demo on 127.0.0.1 on an ephemeral port, with the given data folder, settings and
 * (optionally) a test clock. The browser reaches it as `demo.origin` (http://localhost:<port>).
 */
export function bootDemo(dataDir: string, overrides: Partial<DemoConfig> = {}, clock?: Clock): Promise<RunningDemo> {
  const config = readConfig({}, { port: 0, host: '127.0.0.1', dataDir, ...overrides });
  return startExpressDemo(config, { clock });
}
