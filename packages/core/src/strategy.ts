import type { CookieHeaderInput } from './cookie.js';
import type { CreateSessionInput, IssuedSession, RotateOptions, SessionManager } from './manager.js';
import type { RequestSignals, Session, SessionData } from './types.js';
import type { ValidateOptions, ValidationResult } from './validation.js';

/**
 * How a browser request carries its session, behind one interface: the cookie strategy (a
 * session-token cookie checked against the store) or hybrid sessions (a short-lived session-JWT
 * cookie next to it, `createHybridSessions`). The request context holds exactly one, chosen when
 * it is created, so no flow branches on the mode.
 */
export interface SessionStrategy<D extends SessionData = SessionData> {
  /** The manager that owns the sessions. */
  readonly manager: SessionManager<D>;
  /** Names of the cookies this strategy writes, the session cookie first. */
  readonly cookieNames: readonly string[];
  /**
   * Validates a request from its raw `Cookie` header(s). Never rejects for client input: absence,
   * junk and store outages come back as a status.
   */
  validate(
    cookieHeader: CookieHeaderInput,
    signals?: RequestSignals,
    options?: ValidateOptions,
  ): Promise<ValidationResult<D>>;
  /** Creates a session (login) and returns its cookies. */
  create(input: CreateSessionInput<D>): Promise<IssuedSession<D>>;
  /** Rotates a session (privilege change, re-authentication) and returns its new cookies. */
  rotate(session: Pick<Session<D>, 'id'>, options?: RotateOptions<D>): Promise<IssuedSession<D>>;
  /**
   * Logout: revokes the session `sessionId` (none when null) and returns the Set-Cookie values that
   * delete every cookie of the strategy.
   */
  logout(sessionId: string | null | undefined): Promise<string[]>;
  /** Set-Cookie values deleting every cookie of the strategy. */
  deletionCookies(): string[];
}

/**
 * The cookie strategy: the session-token cookie alone, every request checked against the store
 * (`strict` changes nothing).
 */
export function cookieStrategy<D extends SessionData>(manager: SessionManager<D>): SessionStrategy<D> {
  return {
    manager,
    cookieNames: [manager.cookie.name],
    validate: (cookieHeader, signals) => manager.validateCookie(cookieHeader, signals),
    create: (input) => manager.create(input),
    rotate: (session, options) => manager.rotate(session, options),
    async logout(sessionId) {
      if (sessionId) await manager.revoke(sessionId, { reason: 'logout' });
      return [manager.deletionCookie()];
    },
    deletionCookies: () => [manager.deletionCookie()],
  };
}
