import { parseSidecarConfig, type SidecarConfig } from './config.js';
import { createStatelessEngine, createStoreEngine, identityOptions } from './engines.js';
import { createRemoteEngine } from './remote.js';
import { type Sidecar, serveEngine } from './server.js';

/**
 * Creates a sidecar from a configuration object (the shape of `sidecar.json`), checked in full
 * first: a bad field throws {@link SidecarConfigError} with a stable code before anything is
 * opened. Key files are read and imported, the store client is created (it connects in the
 * background); the returned server is not listening yet.
 *
 * @example
 * ```ts
 * const sidecar = await createSidecar({
 *   mode: 'store',
 *   store: { type: 'redis', url: 'redis://127.0.0.1:6379' },
 *   identity: { claims: ['role'] },
 * })
 * const { url } = await sidecar.listen() // 127.0.0.1:4180 unless configured
 * process.on('SIGTERM', () => sidecar.close())
 * ```
 */
export async function createSidecar(config: SidecarConfig): Promise<Sidecar> {
  const resolved = parseSidecarConfig(config);
  const identity = await identityOptions(resolved);
  const engine =
    resolved.mode === 'stateless'
      ? await createStatelessEngine(resolved)
      : resolved.mode === 'remote'
        ? await createRemoteEngine(resolved)
        : await createStoreEngine(resolved);
  return serveEngine(engine, resolved, identity);
}
