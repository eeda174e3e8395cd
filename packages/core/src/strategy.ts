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
  const strategy: SessionStrategy<D> = {
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
  // The manager's promise-free validation, private to this package (see SessionManager.validateCookieNow).
  const now = (manager as unknown as { validateCookieNow?: ValidateNow<D> }).validateCookieNow;
  if (typeof now === 'function')
    answerNow(strategy, (cookieHeader, signals) => now.call(manager, cookieHeader, signals));
  return strategy;
}

type ValidateNow<D extends SessionData> = (
  cookieHeader: CookieHeaderInput,
  signals: RequestSignals,
) => ValidationResult<D> | Promise<ValidationResult<D>>;

/** The strategies of this package, with their `validate` as it was and its promise-free form. */
// biome-ignore lint/suspicious/noExplicitAny: any session data type.
const validatorsNow = new WeakMap<SessionStrategy<any>, { validate: unknown; now: ValidateNow<any> }>();

/**
 * Package-private (no entry point exports it): registers `now`, the strategy's `validate` without a
 * promise when nothing has to wait (a synchronous store read, a verified-token cache hit).
 */
export function answerNow<D extends SessionData>(strategy: SessionStrategy<D>, now: ValidateNow<D>): void {
  validatorsNow.set(strategy, { validate: strategy.validate, now });
}

/**
 * Package-private: `strategy.validate(cookieHeader, signals)`, answered without a promise where
 * the strategy can. A strategy from elsewhere, or one whose `validate` was replaced since (a spy,
 * a wrapper), goes through its `validate`.
 */
export function validateNow<D extends SessionData>(
  strategy: SessionStrategy<D>,
  cookieHeader: CookieHeaderInput,
  signals: RequestSignals,
): ValidationResult<D> | Promise<ValidationResult<D>> {
  const known = validatorsNow.get(strategy);
  if (known !== undefined && known.validate === strategy.validate) {
    return (known.now as ValidateNow<D>)(cookieHeader, signals);
  }
  return strategy.validate(cookieHeader, signals);
}
