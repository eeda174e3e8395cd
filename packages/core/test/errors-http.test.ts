import { describe, expect, it } from 'vitest';
import {
  assertSecureTransport,
  defaultErrorMessage,
  isLoopbackAddress,
  isLoopbackHost,
  readBearerToken,
} from '../src/entries/adapter.js';
import { errorCodes, toSessionError } from '../src/errors.js';
import {
  cookieHeaders,
  errorResponse,
  errorStatus,
  isSessionError,
  SessionError,
  type SessionErrorCode,
} from '../src/index.js';

describe('SessionError', () => {
  it('carries a stable code, the status from the table, a name, a reason and a cause', () => {
    const cause = new Error('socket closed');
    const error = new SessionError('STORE_UNAVAILABLE', undefined, { cause, reason: 'timeout' });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('SessionError');
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error.status).toBe(503);
    expect(error.reason).toBe('timeout');
    expect(error.cause).toBe(cause);
    expect(error.message).toBe('The session store is unavailable');
    expect(new SessionError('CONFIG_INVALID', 'idle must be shorter').message).toBe('idle must be shorter');
  });

  it('every code has an HTTP status and a generic message', () => {
    expect(errorCodes.length).toBeGreaterThan(20);
    for (const code of errorCodes) {
      expect(errorStatus[code]).toBeGreaterThanOrEqual(400);
      expect(errorStatus[code]).toBeLessThan(600);
      expect(defaultErrorMessage(code)).toMatch(/^[A-Z][\w ,.()-]+$/);
      expect(new SessionError(code).message).toBe(defaultErrorMessage(code));
    }
  });

  it('maps client failures to 401/403/404/409/415, outages to 503 and server misconfiguration to 500', () => {
    const expected: Partial<Record<SessionErrorCode, number>> = {
      UNAUTHENTICATED: 401,
      TOKEN_MALFORMED: 401,
      SESSION_EXPIRED: 401,
      REAUTH_REQUIRED: 401,
      CSRF_REJECTED: 403,
      SESSION_NOT_FOUND: 404,
      SESSION_LIMIT_REACHED: 409,
      STORE_CONFLICT: 409,
      CONTENT_TYPE_REJECTED: 415,
      INPUT_INVALID: 400,
      STORE_UNAVAILABLE: 503,
      CONFIG_INVALID: 500,
      COOKIE_TOO_LARGE: 500,
      CRYPTO_UNAVAILABLE: 500,
      INSECURE_TRANSPORT: 500,
      INTERNAL_ERROR: 500,
    };
    for (const [code, status] of Object.entries(expected))
      expect(errorStatus[code as SessionErrorCode], code).toBe(status);
    expect(Object.isFrozen(errorStatus)).toBe(true);
    expect(Object.isFrozen(errorCodes)).toBe(true);
  });
});

describe('isSessionError / toSessionError', () => {
  it('recognise errors by name and code, so that two copies of the package interoperate', () => {
    const copy = Object.assign(new Error('from another copy'), { name: 'SessionError', code: 'SESSION_EXPIRED' });
    expect(isSessionError(copy)).toBe(true);
    expect(isSessionError(copy, 'SESSION_EXPIRED', 'SESSION_REVOKED')).toBe(true);
    expect(isSessionError(copy, 'SESSION_REVOKED')).toBe(false);
    expect(isSessionError(new SessionError('UNAUTHENTICATED'))).toBe(true);
    for (const value of [null, undefined, 'SESSION_EXPIRED', new Error('x'), { code: 'SESSION_EXPIRED' }]) {
      expect(isSessionError(value)).toBe(false);
    }
    expect(isSessionError({ name: 'SessionError', code: 'NOT_A_CODE' })).toBe(false);
    expect(isSessionError({ name: 'SessionError', code: 'toString' })).toBe(false);
  });

  it('toSessionError keeps coded errors and wraps anything else with the fallback code, keeping the cause', () => {
    const coded = new SessionError('REAUTH_REQUIRED');
    expect(toSessionError(coded, 'INTERNAL_ERROR')).toBe(coded);
    const cause = new TypeError('boom');
    const wrapped = toSessionError(cause, 'STORE_UNAVAILABLE');
    expect(wrapped.code).toBe('STORE_UNAVAILABLE');
    expect(wrapped.cause).toBe(cause);
    expect(wrapped.message).not.toContain('boom');
  });
});

describe('errorResponse', () => {
  it('gives status, JSON headers with no-store, and { error: { code, message } }', () => {
    expect(errorResponse(new SessionError('CSRF_REJECTED'))).toEqual({
      status: 403,
      headers: [
        ['content-type', 'application/json; charset=utf-8'],
        ['cache-control', 'no-store'],
      ],
      body: { error: { code: 'CSRF_REJECTED', message: 'Cross-site request rejected' } },
    });
  });

  it('adds WWW-Authenticate on 401 only', () => {
    expect(errorResponse(new SessionError('SESSION_EXPIRED')).headers).toContainEqual(['www-authenticate', 'Session']);
    expect(errorResponse(new SessionError('STORE_UNAVAILABLE')).headers.map(([name]) => name)).not.toContain(
      'www-authenticate',
    );
  });

  it('turns unknown throwables into a bare 500 INTERNAL_ERROR', () => {
    for (const thrown of [new Error('secret detail'), 'text', 42, undefined]) {
      expect(errorResponse(thrown)).toMatchObject({
        status: 500,
        body: { error: { code: 'INTERNAL_ERROR', message: 'Internal error' } },
      });
    }
  });
});

describe('cookieHeaders', () => {
  it('one set-cookie header per value plus cache-control: no-store; nothing for no cookies', () => {
    expect(cookieHeaders(['a=1', 'b=2'])).toEqual([
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['cache-control', 'no-store'],
    ]);
    expect(cookieHeaders([])).toEqual([]);
  });
});

describe('readBearerToken', () => {
  it('reads the token of a Bearer header (scheme in any case) and nothing else', () => {
    expect(readBearerToken('Bearer abc.DEF_-~+/=')).toBe('abc.DEF_-~+/=');
    expect(readBearerToken('BEARER abc')).toBe('abc');
    expect(readBearerToken('  Bearer abc  ')).toBe('abc');
    for (const header of [
      'Bearer',
      'Bearer ',
      'Bearer a b',
      'Bearer\tabc',
      'Basic abc',
      'Bearerabc',
      'Bearer a=b',
      '',
      undefined,
    ]) {
      expect(readBearerToken(header), JSON.stringify(header)).toBeNull();
    }
    expect(readBearerToken(`Bearer ${'a'.repeat(9000)}`)).toBeNull();
  });
});

describe('isLoopbackHost / assertSecureTransport', () => {
  it('knows the hosts browsers treat as secure contexts over http', () => {
    for (const host of [
      'localhost',
      'LOCALHOST:3000',
      'app.localhost',
      'app.localhost:8080',
      '127.0.0.1',
      '127.0.0.1:80',
      '[::1]',
      '[::1]:3000',
      '::1',
    ]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ['example.com', 'localhost.example.com', '10.0.0.1', '[::2]:80', '', null, undefined]) {
      expect(isLoopbackHost(host), String(host)).toBe(false);
    }
  });

  it('item 9: isLoopbackAddress knows 127.0.0.0/8, ::1 and IPv4-mapped loopback, nothing else', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.255.254',
      '127.0.0.53',
      '::1',
      '::ffff:127.0.0.1',
      '::FFFF:127.1.2.3',
    ]) {
      expect(isLoopbackAddress(address), address).toBe(true);
    }
    for (const address of [
      '128.0.0.1',
      '10.0.0.1',
      '127.0.0.256',
      '127.0.0',
      '127.0.0.1.5',
      ' 127.0.0.1',
      '::2',
      '::ffff:10.0.0.1',
      '[::1]',
      'localhost',
      '',
      null,
      undefined,
      42 as unknown as string,
    ]) {
      expect(isLoopbackAddress(address), String(address)).toBe(false);
    }
  });

  it('production allows https and loopback http, refuses other http; development allows all', () => {
    expect(() => assertSecureTransport({ protocol: 'HTTPS:', host: 'example.com' }, 'production')).not.toThrow();
    expect(() =>
      assertSecureTransport({ protocol: 'http:', host: '[::1]:3000', peerAddress: '::1' }, 'production'),
    ).not.toThrow();
    expect(() => assertSecureTransport({ protocol: 'http:', host: 'example.com' }, 'production')).toThrow(
      expect.objectContaining({ code: 'INSECURE_TRANSPORT' }),
    );
    expect(() => assertSecureTransport({ protocol: 'http:', host: null }, 'production')).toThrow(
      expect.objectContaining({ code: 'INSECURE_TRANSPORT' }),
    );
    expect(() => assertSecureTransport({ protocol: 'http', host: 'example.com' }, 'development')).not.toThrow();
  });
});
