/**
 * TEMPORARY: the request translation @org/session-fastify will provide (request decorator,
 * onRequest validation, CSRF check, login/logout/rotate/csrfToken helpers). Every decision is
 * core's; this file is removed when the adapter lands.
 */
import type {
  CsrfProtection,
  Session,
  SessionData,
  SessionManager,
  SessionMetadata,
  ValidationResult as SessionValidationResult,
} from '@org/session-core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    session: Session<SessionData> | null;
    sessionResult: SessionValidationResult<SessionData> | null;
  }
}

const pending = new WeakMap<FastifyReply, Map<string, string>>();

function setCookies(reply: FastifyReply, cookies: readonly string[]): void {
  if (cookies.length === 0) return;
  const byName = pending.get(reply) ?? new Map<string, string>();
  for (const cookie of cookies) byName.set(cookie.slice(0, cookie.indexOf('=')), cookie);
  pending.set(reply, byName);
  // Fastify appends to set-cookie on every call: replace the whole list instead.
  reply.removeHeader('set-cookie');
  reply.header('set-cookie', [...byName.values()]);
  reply.header('cache-control', 'no-store');
}

export interface DemoFastifySessions {
  csrfToken(request: FastifyRequest, reply: FastifyReply): string;
  login(
    request: FastifyRequest,
    reply: FastifyReply,
    input: { userId: string; metadata?: SessionMetadata; persistent?: boolean },
  ): Promise<void>;
  logout(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  rotate(request: FastifyRequest, reply: FastifyReply, options?: { reauthenticated?: boolean }): Promise<void>;
}

export function registerDemoSessions(
  app: FastifyInstance,
  manager: SessionManager<SessionData>,
  csrf: CsrfProtection,
): DemoFastifySessions {
  app.decorateRequest('session', null);
  app.decorateRequest('sessionResult', null);
  app.addHook('onRequest', async (request, reply) => {
    const result = await manager.validateCookie(request.headers.cookie, {
      userAgent: request.headers['user-agent'] ?? null,
      ip: request.ip,
    });
    request.session = result.session;
    request.sessionResult = result;
    setCookies(reply, result.cookies);
  });
  app.addHook('preHandler', async (request) => {
    csrf.verify({
      method: request.method,
      headers: request.headers,
      session: request.session,
      formToken: (request.body as Record<string, unknown> | undefined)?.[csrf.fieldName],
      ip: request.ip,
    });
  });
  return {
    csrfToken(request, reply) {
      const issued = csrf.token({ session: request.session, cookieHeader: request.headers.cookie });
      setCookies(reply, issued.cookies);
      return issued.token;
    },
    async login(request, reply, input) {
      const issued = await manager.create({ ...input, replaces: request.session?.id ?? null });
      setCookies(reply, [...csrf.endPreSession(request.headers.cookie), ...issued.cookies]);
      request.session = issued.session;
    },
    async logout(request, reply) {
      if (request.session) await manager.revoke(request.session.id, { reason: 'logout' });
      setCookies(reply, [manager.deletionCookie()]);
      request.session = null;
    },
    async rotate(request, reply, options = {}) {
      if (!request.session) throw request.sessionResult?.error;
      const issued = await manager.rotate(request.session, options);
      setCookies(reply, issued.cookies);
      request.session = issued.session;
    },
  };
}
