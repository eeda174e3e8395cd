import { describe, expect, it } from 'vitest';
import {
  configFromEnvironment,
  isSidecarConfigError,
  parseSidecarConfig,
  type SidecarConfigErrorCode,
} from '../src/config.js';

const stateless = {
  mode: 'stateless',
  jwt: { issuer: 'https://auth.test', audience: 'orders', jwksUrl: 'https://auth.test/jwks' },
};
const store = { mode: 'store', store: { type: 'redis', url: 'redis://127.0.0.1:6379' } };
const remote = {
  mode: 'remote',
  remote: { url: 'https://auth.test/auth/', callerId: 'edge', apiKeyFile: '/run/secrets/api-key' },
};

function refusal(input: unknown): { code: SidecarConfigErrorCode; path: string; message: string } {
  try {
    parseSidecarConfig(input);
  } catch (error) {
    if (!isSidecarConfigError(error)) throw error;
    return { code: error.code, path: error.path, message: error.message };
  }
  throw new Error('accepted');
}

describe('config validation', () => {
  it('fills the defaults', () => {
    const config = parseSidecarConfig(store);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 4180 });
    expect(config.paths).toEqual({
      auth: '/auth',
      token: '/token',
      jwks: '/.well-known/jwks.json',
      health: '/healthz',
      ready: '/readyz',
    });
    expect(config.cookieName).toBe('__Host-sid');
    expect(config.bearer).toBe(true);
    expect(config.identity).toEqual({ claims: [], sessionId: 'hash', sessionIdKeyFile: null });
    expect(parseSidecarConfig({ ...store, cookieMode: 'development' }).cookieName).toBe('sid');
    expect(parseSidecarConfig(stateless).jwt?.audience).toEqual(['orders']);
  });

  it.each([
    [{}, 'CONFIG_REQUIRED', 'mode'],
    [[], 'CONFIG_INVALID_VALUE', ''],
    [{ mode: 'remote' }, 'CONFIG_REQUIRED', 'remote'],
    [{ ...remote, remote: { ...remote.remote, url: 'http://auth.example.com' } }, 'CONFIG_INVALID_VALUE', 'remote.url'],
    [{ ...remote, remote: { ...remote.remote, url: 'https://u:p@auth.test' } }, 'CONFIG_INVALID_VALUE', 'remote.url'],
    [{ ...remote, remote: { ...remote.remote, callerId: 'a b' } }, 'CONFIG_INVALID_VALUE', 'remote.callerId'],
    [{ ...remote, remote: { url: 'https://auth.test', callerId: 'edge' } }, 'CONFIG_REQUIRED', 'remote.apiKeyFile'],
    [{ ...remote, remote: { ...remote.remote, cacheTtlMs: 3_600_000 } }, 'CONFIG_INVALID_VALUE', 'remote.cacheTtlMs'],
    [{ ...remote, remote: { ...remote.remote, cahceTtlMs: 1 } }, 'CONFIG_UNKNOWN_FIELD', 'remote.cahceTtlMs'],
    [{ ...remote, store: store.store }, 'CONFIG_CONFLICT', 'store'],
    [{ ...remote, jwt: stateless.jwt }, 'CONFIG_CONFLICT', 'jwt'],
    [{ ...store, remote: remote.remote }, 'CONFIG_CONFLICT', 'remote'],
    [{ mode: 'magic' }, 'CONFIG_INVALID_VALUE', 'mode'],
    [{ ...store, prot: 1 }, 'CONFIG_UNKNOWN_FIELD', 'prot'],
    [{ ...store, listen: { port: 70000 } }, 'CONFIG_INVALID_VALUE', 'listen.port'],
    [{ ...store, listen: { hots: 'x' } }, 'CONFIG_UNKNOWN_FIELD', 'listen.hots'],
    [{ ...store, paths: { auth: 'auth' } }, 'CONFIG_INVALID_VALUE', 'paths.auth'],
    [{ ...store, paths: { token: '/auth/token' } }, 'CONFIG_CONFLICT', 'paths.token'],
    [{ ...store, paths: { health: '/readyz' } }, 'CONFIG_CONFLICT', 'paths.ready'],
    [{ mode: 'store' }, 'CONFIG_REQUIRED', 'store'],
    [{ mode: 'store', store: { type: 'mysql' } }, 'CONFIG_INVALID_VALUE', 'store.type'],
    [{ mode: 'store', store: { type: 'redis' } }, 'CONFIG_REQUIRED', 'store.url'],
    [{ mode: 'store', store: { type: 'redis', url: 'http://x' } }, 'CONFIG_INVALID_VALUE', 'store.url'],
    [{ mode: 'store', store: { type: 'postgres', url: 'x' } }, 'CONFIG_UNKNOWN_FIELD', 'store.url'],
    [
      { mode: 'store', store: { type: 'postgres', connectionString: 'mysql://x' } },
      'CONFIG_INVALID_VALUE',
      'store.connectionString',
    ],
    [{ mode: 'stateless' }, 'CONFIG_REQUIRED', 'jwt'],
    [{ mode: 'stateless', jwt: { audience: 'a' } }, 'CONFIG_REQUIRED', 'jwt.issuer'],
    [{ mode: 'stateless', jwt: { issuer: 'i' } }, 'CONFIG_REQUIRED', 'jwt.audience'],
    [{ mode: 'stateless', jwt: { issuer: 'i', audience: [] } }, 'CONFIG_INVALID_VALUE', 'jwt.audience'],
    [{ mode: 'stateless', jwt: { issuer: 'i', audience: 'a' } }, 'CONFIG_REQUIRED', 'jwt.jwksUrl'],
    [
      { mode: 'stateless', jwt: { issuer: 'i', audience: 'a', jwksUrl: 'ftp://x' } },
      'CONFIG_INVALID_VALUE',
      'jwt.jwksUrl',
    ],
    [
      { mode: 'stateless', jwt: { issuer: 'i', audience: 'a', jwksUrl: 'nope' } },
      'CONFIG_INVALID_VALUE',
      'jwt.jwksUrl',
    ],
    [{ ...stateless, store: store.store }, 'CONFIG_CONFLICT', 'store'],
    [{ ...stateless, bearer: false }, 'CONFIG_CONFLICT', 'bearer'],
    [{ ...stateless, cookieName: 'sid' }, 'CONFIG_CONFLICT', 'cookieName'],
    [{ ...stateless, jwt: { ...stateless.jwt, signingKeyFile: 'k.json' } }, 'CONFIG_CONFLICT', 'jwt.signingKeyFile'],
    [{ ...stateless, jwt: { ...stateless.jwt, jwksFile: 'k.json' } }, 'CONFIG_CONFLICT', 'jwt.jwksFile'],
    [{ ...stateless, jwt: { ...stateless.jwt, ttlSeconds: 7200 } }, 'CONFIG_INVALID_VALUE', 'jwt.ttlSeconds'],
    [{ ...store, jwt: { issuer: 'i', audience: 'a' } }, 'CONFIG_REQUIRED', 'jwt.signingKeyFile'],
    [{ ...store, jwt: { issuer: 'i', audience: 'a', jwksUrl: 'https://x' } }, 'CONFIG_CONFLICT', 'jwt.jwksUrl'],
    [{ ...store, jwtCookieName: '__Host-sjwt' }, 'CONFIG_REQUIRED', 'jwt'],
    [{ ...store, cookieName: 'a b' }, 'CONFIG_INVALID_VALUE', 'cookieName'],
    [{ ...store, identity: { claims: ['role', 'Role'] } }, 'CONFIG_CONFLICT', 'identity.claims[1]'],
    [{ ...store, identity: { claims: ['sub'] } }, 'CONFIG_INVALID_VALUE', 'identity.claims[0]'],
    [{ ...store, identity: { claims: ['__proto__'] } }, 'CONFIG_INVALID_VALUE', 'identity.claims[0]'],
    [{ ...store, identity: { claims: ['a b'] } }, 'CONFIG_INVALID_VALUE', 'identity.claims[0]'],
    [{ ...store, identity: { sessionId: 'raw' } }, 'CONFIG_INVALID_VALUE', 'identity.sessionId'],
    [{ ...store, policy: 5 }, 'CONFIG_INVALID_VALUE', 'policy'],
    [{ ...store, clientIpHeader: 'x real ip' }, 'CONFIG_INVALID_VALUE', 'clientIpHeader'],
  ])('refuses %j with %s at %s', (input, code, path) => {
    const error = refusal(input);
    expect(error.code).toBe(code);
    expect(error.path).toBe(path);
  });

  it('fills in the remote mode defaults: a 5 s cache of 10 000 answers, 1 s per call', () => {
    expect(parseSidecarConfig(remote).remote).toEqual({
      url: 'https://auth.test/auth',
      callerId: 'edge',
      apiKeyFile: '/run/secrets/api-key',
      cacheTtlMs: 5000,
      cacheSize: 10_000,
      timeoutMs: 1000,
    });
  });

  it('never repeats a value in a message (a connection string may hold a password)', () => {
    const secret = 'postgres://user:hunter2@db/sessions';
    const error = refusal({ mode: 'store', store: { type: 'postgres', connectionString: secret, schem: 'x' } });
    expect(error.message).not.toContain('hunter2');
    const bad = refusal({ mode: 'store', store: { type: 'redis', url: 'http://user:hunter2@x' } });
    expect(bad.message).not.toContain('hunter2');
  });
});

describe('environment variables', () => {
  it('returns null when no SESSION_SIDECAR_* variable is set', () => {
    expect(configFromEnvironment({ PATH: '/bin' })).toBeNull();
  });

  it('maps every variable to its field', () => {
    const config = configFromEnvironment({
      SESSION_SIDECAR_MODE: 'store',
      SESSION_SIDECAR_HOST: '0.0.0.0',
      SESSION_SIDECAR_PORT: '9000',
      SESSION_SIDECAR_REDIS_URL: 'redis://127.0.0.1:6379',
      SESSION_SIDECAR_REDIS_PREFIX: 'app:',
      SESSION_SIDECAR_CLAIMS: 'role, tenant',
      SESSION_SIDECAR_SESSION_ID_HEADER: 'none',
      SESSION_SIDECAR_BEARER: 'false',
      SESSION_SIDECAR_COOKIE_NAME: '__Host-app',
      SESSION_SIDECAR_POLICY: 'aal3',
    });
    expect(config).toEqual({
      mode: 'store',
      listen: { host: '0.0.0.0', port: 9000 },
      store: { type: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'app:' },
      identity: { claims: ['role', 'tenant'], sessionId: 'none' },
      bearer: false,
      cookieName: '__Host-app',
      policy: 'aal3',
    });
    expect(parseSidecarConfig(config).listen.port).toBe(9000);
    const jwt = configFromEnvironment({
      SESSION_SIDECAR_MODE: 'stateless',
      SESSION_SIDECAR_JWT_ISSUER: 'https://auth.test',
      SESSION_SIDECAR_JWT_AUDIENCE: 'orders,billing',
      SESSION_SIDECAR_JWKS_URL: 'https://auth.test/jwks',
      SESSION_SIDECAR_JWT_COOKIE_NAME: '__Host-sjwt',
    });
    expect(parseSidecarConfig(jwt).jwt?.audience).toEqual(['orders', 'billing']);
  });

  it('refuses unknown variables, bad numbers and mixed stores', () => {
    const codeOf = (env: Record<string, string>) => {
      try {
        configFromEnvironment(env);
      } catch (error) {
        return isSidecarConfigError(error) ? `${error.code} ${error.path}` : 'other';
      }
      return 'accepted';
    };
    expect(codeOf({ SESSION_SIDECAR_MOD: 'store' })).toBe('CONFIG_UNKNOWN_ENV SESSION_SIDECAR_MOD');
    expect(codeOf({ SESSION_SIDECAR_PORT: '80a' })).toBe('CONFIG_INVALID_VALUE SESSION_SIDECAR_PORT');
    expect(codeOf({ SESSION_SIDECAR_BEARER: 'yes' })).toBe('CONFIG_INVALID_VALUE SESSION_SIDECAR_BEARER');
    expect(codeOf({ SESSION_SIDECAR_REDIS_URL: 'redis://x', SESSION_SIDECAR_POSTGRES_URL: 'postgres://x' })).toBe(
      'CONFIG_CONFLICT SESSION_SIDECAR_REDIS_URL',
    );
  });
});
