import type { ResolvedSidecarConfig } from '../src/config.js';
import { parseSidecarConfig } from '../src/config.js';
import { type CredentialInput, type Decision, type SidecarEngine, serveEngine } from '../src/server.js';

/**
 * A stand-in for the session engines: `Authorization: Bearer good-<user>` is allowed, `Bearer down`
 * is an outage, anything else is a 401. Records what it was given.
 */
export function stubEngine(): SidecarEngine & { seen: CredentialInput[]; outage: boolean } {
  const engine = {
    mode: 'stub',
    seen: [] as CredentialInput[],
    outage: false,
    async decide(input: CredentialInput): Promise<Decision> {
      engine.seen.push(input);
      if (engine.outage || input.authorization === 'Bearer down') {
        return { allow: false, denial: { status: 503, code: 'STORE_UNAVAILABLE', message: 'down' }, cookies: [] };
      }
      if (input.authorization === 'Bearer throw') throw new Error('engine failure at db.internal:5432');
      const match = /^Bearer good-(\S+)$/.exec(input.authorization ?? '');
      if (!match) {
        return {
          allow: false,
          denial: { status: 401, code: 'UNAUTHENTICATED', message: 'No valid session' },
          cookies: [],
        };
      }
      return {
        allow: true,
        identity: {
          userId: match[1] as string,
          sessionId: 'sid-1',
          authTime: 1_700_000_000,
          claims: { role: 'admin', tenant: 't1', groups: ['a', 'b'] },
        },
        cookies: [],
      };
    },
    jwks: () => ({ keys: [] }),
    ready: async () => !engine.outage,
    close: async () => {},
  };
  return engine;
}

export const stubConfig: ResolvedSidecarConfig = parseSidecarConfig({
  mode: 'stateless',
  jwt: { issuer: 'https://auth.test', audience: 'app', jwksFile: '/dev/null' },
  identity: { claims: ['role', 'tenant'] },
});

export function serveStub(engine = stubEngine()) {
  return {
    engine,
    sidecar: serveEngine(engine, stubConfig, { claims: ['role', 'tenant'], sessionIdValue: (id) => `h(${id})` }),
  };
}
