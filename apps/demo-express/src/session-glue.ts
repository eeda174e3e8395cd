/**
 * TEMPORARY: the few lines of request translation that @org/session-express will provide, with
 * the API it proposes (`middleware`, `req.session`, `login`, `logout`, `rotate`, `csrf()`,
 * `csrfToken`). Every decision is core's; this file is removed when the adapter lands.
 */
import {
  type CsrfProtection,
  errorResponse,
  type Session,
  type SessionData,
  type SessionManager,
  type SessionMetadata,
  type ValidationResult,
} from '@org/session-core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

declare global {
  namespace Express {
    interface Request {
      session: Session<SessionData> | null;
      sessionResult: ValidationResult<SessionData>;
    }
  }
}

function cookieName(setCookie: string): string {
  return setCookie.slice(0, setCookie.indexOf('='));
}

/** Adds Set-Cookie values, keeping only the last one per name (one Set-Cookie per name). */
function setCookies(res: Response, cookies: readonly string[]): void {
  if (cookies.length === 0) return;
  const pending = new Map<string, string>((res.locals.pendingCookies as Map<string, string> | undefined) ?? []);
  for (const cookie of cookies) pending.set(cookieName(cookie), cookie);
  res.locals.pendingCookies = pending;
  res.setHeader('set-cookie', [...pending.values()]);
  res.setHeader('cache-control', 'no-store');
}

export function demoSessions<D extends SessionData>(manager: SessionManager<D>, options: { csrf: CsrfProtection }) {
  const { csrf } = options;
  const middleware: RequestHandler = async (req, res, next) => {
    const result = await manager.validateCookie(req.headers.cookie, {
      userAgent: req.get('user-agent') ?? null,
      ip: req.ip ?? null,
    });
    req.session = result.session as Session<SessionData> | null;
    req.sessionResult = result as ValidationResult<SessionData>;
    setCookies(res, result.cookies);
    next();
  };
  return {
    middleware,
    csrf(): RequestHandler {
      return (req: Request, _res: Response, next: NextFunction) => {
        try {
          csrf.verify({
            method: req.method,
            headers: req.headers,
            session: req.session,
            formToken: (req.body as Record<string, unknown> | undefined)?.[csrf.fieldName],
            ip: req.ip ?? null,
          });
          next();
        } catch (error) {
          next(error);
        }
      };
    },
    csrfToken(req: Request, res: Response): string {
      const issued = csrf.token({ session: req.session, cookieHeader: req.headers.cookie });
      setCookies(res, issued.cookies);
      return issued.token;
    },
    async login(
      req: Request,
      res: Response,
      input: { userId: string; metadata?: SessionMetadata; persistent?: boolean },
    ): Promise<Session<D>> {
      const issued = await manager.create({ ...input, replaces: req.session?.id ?? null });
      setCookies(res, [...csrf.endPreSession(req.headers.cookie), ...issued.cookies]);
      req.session = issued.session as Session<SessionData>;
      return issued.session;
    },
    async logout(req: Request, res: Response): Promise<void> {
      if (req.session) await manager.revoke(req.session.id, { reason: 'logout' });
      setCookies(res, [manager.deletionCookie()]);
      req.session = null;
    },
    async rotate(req: Request, res: Response, rotateOptions: { reauthenticated?: boolean } = {}): Promise<Session<D>> {
      if (!req.session) throw manager.requireSession(req.sessionResult as ValidationResult<D>);
      const issued = await manager.rotate(req.session, rotateOptions);
      setCookies(res, issued.cookies);
      req.session = issued.session as Session<SessionData>;
      return issued.session;
    },
    /** Sends core's status and JSON body for a session error. */
    sendError(res: Response, error: unknown): void {
      const response = errorResponse(error);
      for (const [name, value] of response.headers) res.setHeader(name, value);
      res.status(response.status).json(response.body);
    },
  };
}
