// A soak client: one user, a handful of sessions and at most one refresh family, driven one request
// at a time. Its ledger records what it holds and what the servers told it; every answer that
// contradicts the ledger is counted as it happens, and the ledger is audited against the store at
// the end (audit.ts).
import { randomBytes } from 'node:crypto';
import { generateSessionToken } from '@org/session-core/testing';

export const SESSION_COOKIE = '__Host-sid';

/** A session the ledger holds as live: its cookies (session and hybrid JWT) as last set. */
export interface HeldSession {
  id: string;
  cookies: Map<string, string>;
  createdAt: number;
  /** When the JWT cookie was last set (ms): it is accepted on hybrid reads until ttl + tolerance later. */
  jwtSetAt: number;
  /** A mutation of this session is in flight: its state is not known until it answers. */
  busy: boolean;
}

/** A session the ledger knows to be dead: revoked, rotated away or ended by refresh reuse. */
export interface DeadSession {
  id: string;
  cookies: Map<string, string>;
  diedAt: number;
  jwtSetAt: number;
}

/** The refresh family the client holds: its current token, the one before, and when it turned. */
export interface HeldFamily {
  familyId: string;
  sessionId: string;
  token: string;
  previous: string | null;
  /** Send and receive times of the refresh that produced `token`. */
  rotatedSentAt: number;
  rotatedReceivedAt: number;
  busy: boolean;
}

/** What a fault window is, as clients see it. */
export interface FaultWindow {
  name: string;
  /** From here until `end`, the store cannot answer at all (a stopped server), or null. */
  hardStart: number | null;
  hardEnd: number | null;
  start: number;
  end: number | null;
  failedClosed: number;
  wronglyAllowed: number;
  deletionCookies: number;
}

/** Every count the audit reports. */
export interface Counters {
  requests: number;
  ok: number;
  refused: number;
  unavailable: number;
  networkErrors: number;
  /** Ledger-live sessions the servers called unknown (401 outside any outage). */
  lostDuringLoad: number;
  /** Requests with a never-issued, tampered or revoked token that were answered 200. */
  forgedAccepted: number;
  revokedAccepted: number;
  /** Hybrid reads with a revoked session's JWT accepted inside the JWT's lifetime: the documented window. */
  hybridWindowAccepted: number;
  /** Two different live successors of one refresh token. */
  forked: number;
  /** A duplicate refresh inside the grace window refused (it must get the same successor). */
  graceRefused: number;
  /** A replay after the grace window that did not revoke the family (answered 200). */
  replayAccepted: number;
  /** A session cookie deleted on an answer that was not a logout of a session the ledger still holds. */
  wrongDeletions: number;
  /** Mutations whose outcome is unknown (failed or timed out): their sessions leave the audit. */
  uncertain: number;
  byOp: Record<string, number>;
}

export function newCounters(): Counters {
  return {
    requests: 0,
    ok: 0,
    refused: 0,
    unavailable: 0,
    networkErrors: 0,
    lostDuringLoad: 0,
    forgedAccepted: 0,
    revokedAccepted: 0,
    hybridWindowAccepted: 0,
    forked: 0,
    graceRefused: 0,
    replayAccepted: 0,
    wrongDeletions: 0,
    uncertain: 0,
    byOp: {},
  };
}

export interface ClientSettings {
  servers: string[];
  graceMs: number;
  /** ttl + tolerance of the hybrid JWT, ms, plus a second for its whole-second timestamps. */
  jwtWindowMs: number;
  /** Clients pause up to this long between requests (ms). */
  thinkMs: number;
  requestTimeoutMs: number;
}

interface Answer {
  status: number;
  body: Record<string, unknown> | null;
  setCookies: string[];
  sentAt: number;
  receivedAt: number;
}

const MAX_LIVE = 3;
/** Operations that present a session the ledger holds as live. */
const LIVE_SESSION_OPS = new Set(['validate', 'hybrid', 'touch', 'rotate', 'logout-others', 'token']);
const MAX_DEAD = 8;

/** An answer refusing a refresh token as replayed (the server then ended its family and session). */
function isReuse(answer: Answer): boolean {
  return (answer.body?.error as { code?: string } | undefined)?.code === 'REFRESH_REUSED';
}

/** No answer, or a 5xx: the server may yet act on the request (or did, and failed to say so). */
function unanswered(answer: Answer): boolean {
  return answer.status === 0 || answer.status >= 500;
}

/** Name and value of a Set-Cookie line, and whether it deletes the cookie. */
function parseSetCookie(line: string): { name: string; value: string; deletes: boolean } {
  const [pair = '', ...attributes] = line.split(';');
  const eq = pair.indexOf('=');
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  const deletes =
    value === '' ||
    attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) ||
    attributes.some((a) => /^\s*expires\s*=.*19(70|69)/i.test(a));
  return { name, value, deletes };
}

export class SoakClient {
  readonly userId: string;
  readonly live = new Map<string, HeldSession>();
  readonly dead: DeadSession[] = [];
  family: HeldFamily | null = null;
  /** Families ended for certain (revoked by reuse or logout), for the store audit. */
  readonly endedFamilies: string[] = [];
  private next = 0;
  /** Stopped after an unanswered revoke-all (see mutate). */
  retired = false;

  constructor(
    index: number,
    private readonly settings: ClientSettings,
    private readonly counters: Counters,
    private readonly faults: FaultWindow[],
  ) {
    this.userId = `soak-user-${index}-${randomBytes(4).toString('hex')}`;
    this.next = index;
  }

  private server(): string {
    this.next = (this.next + 1) % this.settings.servers.length;
    return this.settings.servers[this.next] as string;
  }

  private cookieHeader(cookies: Map<string, string>, only?: string): string {
    return [...cookies]
      .filter(([name]) => only === undefined || name === only)
      .map(([name, value]) => `${name}=${value}`)
      .join('; ');
  }

  private async send(op: string, method: string, path: string, cookie: string, body?: unknown): Promise<Answer> {
    const sentAt = Date.now();
    this.counters.requests++;
    this.counters.byOp[op] = (this.counters.byOp[op] ?? 0) + 1;
    try {
      const response = await fetch(`${this.server()}${path}`, {
        method,
        headers: {
          ...(cookie ? { cookie } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.settings.requestTimeoutMs),
      });
      const text = await response.text();
      let parsed: Record<string, unknown> | null = null;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = null;
      }
      const answer = {
        status: response.status,
        body: parsed,
        setCookies: response.headers.getSetCookie(),
        sentAt,
        receivedAt: Date.now(),
      };
      if (answer.status === 200) this.counters.ok++;
      else if (answer.status === 401 || answer.status === 403) this.counters.refused++;
      else this.counters.unavailable++;
      this.checkOutage(op, answer);
      return answer;
    } catch {
      this.counters.networkErrors++;
      return { status: 0, body: null, setCookies: [], sentAt, receivedAt: Date.now() };
    }
  }

  /** Fault bookkeeping: refusals inside a window, and anything a stopped store could not have allowed. */
  private checkOutage(op: string, answer: Answer): void {
    for (const fault of this.faults) {
      const end = fault.end ?? Number.POSITIVE_INFINITY;
      if (answer.receivedAt < fault.start || answer.sentAt > end) continue;
      // Refused because of the fault: a 5xx, or a 401 for a session the ledger holds (also counted lost).
      if (answer.status >= 500 || (answer.status === 401 && LIVE_SESSION_OPS.has(op))) fault.failedClosed++;
      const deletes = answer.setCookies.some((line) => {
        const cookie = parseSetCookie(line);
        return cookie.name === SESSION_COOKIE && cookie.deletes;
      });
      // A dead or forged token is rightly cleared; a live one, or any failure, must keep its cookie.
      if (deletes && (answer.status >= 500 || LIVE_SESSION_OPS.has(op))) fault.deletionCookies++;
      // Only hybrid reads may succeed without the store; everything else needs it.
      if (
        fault.hardStart !== null &&
        answer.sentAt > fault.hardStart &&
        answer.receivedAt < (fault.hardEnd ?? Number.POSITIVE_INFINITY) &&
        answer.status === 200 &&
        op !== 'hybrid' &&
        op !== 'hybrid-dead'
      ) {
        fault.wronglyAllowed++;
      }
    }
  }

  /** Applies Set-Cookie lines to a held session's cookies; true if the session cookie was deleted. */
  private applyCookies(held: { cookies: Map<string, string>; jwtSetAt: number }, answer: Answer): boolean {
    let deleted = false;
    for (const line of answer.setCookies) {
      const cookie = parseSetCookie(line);
      if (cookie.deletes) {
        held.cookies.delete(cookie.name);
        if (cookie.name === SESSION_COOKIE) deleted = true;
      } else {
        held.cookies.set(cookie.name, cookie.value);
        if (cookie.name !== SESSION_COOKIE) held.jwtSetAt = answer.receivedAt;
      }
    }
    return deleted;
  }

  private bury(held: HeldSession, at: number): void {
    this.live.delete(held.id);
    this.dead.push({ id: held.id, cookies: held.cookies, diedAt: at, jwtSetAt: held.jwtSetAt });
    if (this.dead.length > MAX_DEAD) this.dead.shift();
  }

  /** A mutation whose outcome is unknown: the session leaves the ledger (and the audit). */
  private forget(held: HeldSession): void {
    this.counters.uncertain++;
    this.live.delete(held.id);
  }

  private pickLive(): HeldSession | null {
    const idle = [...this.live.values()].filter((s) => !s.busy);
    return idle.length === 0 ? null : (idle[Math.floor(Math.random() * idle.length)] as HeldSession);
  }

  /** A 401 for a session the ledger holds: lost, unless a fault made the store unreachable. */
  private refusedLive(answer: Answer): void {
    if (answer.status === 401 || answer.status === 403) {
      this.counters.lostDuringLoad++;
      // SOAK_DEBUG=1: what the server said, to tell a library fault from a ledger gap.
      if (process.env.SOAK_DEBUG) {
        console.error(
          `lost? ${this.userId} ${answer.status} ${JSON.stringify(answer.body)} after ${answer.receivedAt - answer.sentAt} ms`,
        );
      }
    }
    if (answer.setCookies.some((l) => parseSetCookie(l).name === SESSION_COOKIE && parseSetCookie(l).deletes)) {
      this.counters.wrongDeletions++;
    }
  }

  async login(): Promise<void> {
    const answer = await this.send('login', 'POST', '/login', '', { userId: this.userId });
    if (answer.status !== 200) return;
    const id = String(answer.body?.id);
    const held: HeldSession = { id, cookies: new Map(), createdAt: answer.sentAt, jwtSetAt: 0, busy: false };
    this.applyCookies(held, answer);
    if (!held.cookies.get(SESSION_COOKIE)?.startsWith(`${id}.`)) throw new Error('login set no session cookie');
    this.live.set(id, held);
  }

  async validate(): Promise<void> {
    const held = this.pickLive();
    if (!held) return this.login();
    const answer = await this.send('validate', 'GET', '/me', this.cookieHeader(held.cookies, SESSION_COOKIE));
    if (answer.status === 200 && answer.body?.id !== held.id) this.counters.forgedAccepted++;
    if (answer.status !== 200) this.refusedLive(answer);
  }

  async hybridRead(): Promise<void> {
    const held = this.pickLive();
    if (!held) return this.login();
    const answer = await this.send('hybrid', 'GET', '/hybrid', this.cookieHeader(held.cookies));
    if (answer.status === 200 && answer.body?.id !== held.id) this.counters.forgedAccepted++;
    if (answer.status !== 200) this.refusedLive(answer);
    else this.applyCookies(held, answer);
  }

  /** A mutation of one held session: touch, rotate, logout or logout-others. */
  async mutate(op: 'touch' | 'rotate' | 'logout' | 'logout-others'): Promise<void> {
    const held = this.pickLive();
    if (!held) return this.login();
    held.busy = true;
    const others = [...this.live.values()].filter((s) => s !== held);
    if (op === 'logout-others') for (const other of others) other.busy = true;
    const answer = await this.send(op, 'POST', `/${op}`, this.cookieHeader(held.cookies, SESSION_COOKIE));
    held.busy = false;
    for (const other of others) other.busy = false;
    if (answer.status !== 200) {
      this.refusedLive(answer);
      // Refused by a live store (401) the ledger is wrong, already counted as lost; unknown otherwise.
      if (op !== 'touch') {
        this.forget(held);
        if (op === 'logout-others') for (const other of others) if (this.live.has(other.id)) this.forget(other);
      }
      // A revoke-all left without an answer may still be served later, and then revokes every
      // session of the user created before it runs, new ones included: the client retires, so its
      // ledger never holds a session such a late request could end.
      if (op === 'logout-others' && answer.status === 0) {
        for (const other of [...this.live.values()]) this.forget(other);
        this.family = null;
        this.retired = true;
      }
      return;
    }
    if (op === 'touch') {
      this.applyCookies(held, answer);
    } else if (op === 'rotate') {
      const successor: HeldSession = {
        id: String(answer.body?.id),
        cookies: new Map(held.cookies),
        createdAt: held.createdAt,
        jwtSetAt: held.jwtSetAt,
        busy: false,
      };
      this.applyCookies(successor, answer);
      this.bury(held, answer.receivedAt);
      this.live.set(successor.id, successor);
      if (this.family?.sessionId === held.id) this.dropFamily(false);
    } else if (op === 'logout') {
      this.bury(held, answer.receivedAt);
      if (this.family?.sessionId === held.id) this.dropFamily(true);
    } else {
      for (const other of others) {
        if (!this.live.has(other.id)) continue;
        this.bury(other, answer.receivedAt);
        if (this.family?.sessionId === other.id) this.dropFamily(true);
      }
    }
  }

  /**
   * The family leaves the ledger: `ended` when its session is dead for certain (the family is
   * then refused), otherwise (a rotation moved the session on) it is merely no longer followed.
   */
  private dropFamily(ended: boolean): void {
    if (this.family && ended) this.endedFamilies.push(this.family.familyId);
    this.family = null;
  }

  /** Issues a refresh family on a held session, or refreshes the one held (with replays). */
  async refresh(): Promise<void> {
    if (!this.family) {
      const held = this.pickLive();
      if (!held) return this.login();
      held.busy = true;
      const answer = await this.send('token', 'POST', '/token', this.cookieHeader(held.cookies, SESSION_COOKIE));
      held.busy = false;
      if (answer.status !== 200) return this.refusedLive(answer);
      const token = String(answer.body?.refreshToken);
      this.family = {
        familyId: token.split('.')[0] as string,
        sessionId: held.id,
        token,
        previous: null,
        rotatedSentAt: answer.sentAt,
        rotatedReceivedAt: answer.receivedAt,
        busy: false,
      };
      return;
    }
    const family = this.family;
    if (family.busy) return;
    const held = this.live.get(family.sessionId);
    if (!held || held.busy) return;
    family.busy = true;
    held.busy = true;
    try {
      const roll = Math.random();
      if (roll < 0.15 && family.previous && Date.now() - family.rotatedReceivedAt > this.settings.graceMs + 500) {
        await this.replayAfterGrace(family, held);
      } else if (roll < 0.3) {
        await this.duplicateRefresh(family, held);
      } else {
        await this.plainRefresh(family, held);
      }
    } finally {
      family.busy = false;
      held.busy = false;
    }
  }

  private async plainRefresh(family: HeldFamily, held: HeldSession): Promise<void> {
    const answer = await this.send('refresh', 'POST', '/token/refresh', '', { refreshToken: family.token });
    if (answer.status === 200) return this.advance(family, answer);
    if (answer.status === 401) {
      this.counters.lostDuringLoad++;
      this.forget(held);
      this.family = null;
    } else if (answer.status !== 409) {
      this.counters.uncertain++;
      this.family = null; // The family may have moved on without us: stop following it.
    }
  }

  private advance(family: HeldFamily, answer: Answer): void {
    family.previous = family.token;
    family.token = String(answer.body?.refreshToken);
    family.rotatedSentAt = answer.sentAt;
    family.rotatedReceivedAt = answer.receivedAt;
  }

  /** Two refreshes of one token at once, then one more duplicate inside the grace window. */
  private async duplicateRefresh(family: HeldFamily, held: HeldSession): Promise<void> {
    const presented = family.token;
    const [a, b] = await Promise.all([
      this.send('refresh-duplicate', 'POST', '/token/refresh', '', { refreshToken: presented }),
      this.send('refresh-duplicate', 'POST', '/token/refresh', '', { refreshToken: presented }),
    ]);
    const successes = [a, b].filter((x) => x.status === 200);
    const tokens = new Set(successes.map((x) => String(x.body?.refreshToken)));
    if (tokens.size > 1) this.counters.forked++;
    // A copy that got no answer (or a 5xx) may still be served later, after the grace window: a
    // replay that ends the session. Its fate is unknown, so it leaves the ledger.
    if ([a, b].some(unanswered)) {
      this.forget(held);
      this.family = null;
      return;
    }
    // On a loaded machine the second copy may reach the store after the grace window: that is a
    // replay, rightly answered REFRESH_REUSED, and the family and its session are ended.
    if ([a, b].some(isReuse)) {
      this.endedFamilies.push(family.familyId);
      this.family = null;
      this.bury(held, Math.max(a.receivedAt, b.receivedAt));
      return;
    }
    const first = successes[0];
    if (!first) {
      if (a.status === 401 || b.status === 401) {
        this.counters.lostDuringLoad++;
        this.forget(held);
      } else this.counters.uncertain++;
      this.family = null;
      return;
    }
    this.advance(family, first);
    family.rotatedSentAt = Math.min(a.sentAt, b.sentAt);
    // One more duplicate, certainly inside the window if it answers fast enough.
    const again = await this.send('refresh-grace', 'POST', '/token/refresh', '', { refreshToken: presented });
    if (unanswered(again)) {
      this.forget(held);
      this.family = null;
      return;
    }
    if (again.status === 200 && again.body?.refreshToken !== family.token) this.counters.forked++;
    const certainlyInside = again.receivedAt - family.rotatedSentAt <= this.settings.graceMs;
    if (again.status === 401 && certainlyInside) this.counters.graceRefused++;
    if (again.status === 401 && !certainlyInside) {
      // Past the window after all: that was a replay, which ends the family and the session.
      this.endedFamilies.push(family.familyId);
      this.family = null;
      this.bury(held, again.receivedAt);
    }
  }

  /** A replay of the previous token after the grace window: must be refused and end the session. */
  private async replayAfterGrace(family: HeldFamily, held: HeldSession): Promise<void> {
    const answer = await this.send('refresh-replay', 'POST', '/token/refresh', '', { refreshToken: family.previous });
    const certainlyAfter = answer.sentAt - family.rotatedReceivedAt > this.settings.graceMs;
    if (answer.status === 200) {
      if (certainlyAfter) this.counters.replayAccepted++;
      if (answer.body?.refreshToken !== family.token) this.counters.forked++;
      return;
    }
    if (answer.status === 401) {
      this.endedFamilies.push(family.familyId);
      this.family = null;
      this.bury(held, answer.receivedAt);
    } else {
      // Unavailable: the family may or may not be revoked now.
      this.counters.uncertain++;
      this.family = null;
      this.forget(held);
    }
  }

  /** Replays a dead session's cookie on a store-checked route: must be refused. */
  async replayDead(): Promise<void> {
    const dead = this.dead[Math.floor(Math.random() * this.dead.length)];
    if (!dead?.cookies.has(SESSION_COOKIE)) return this.validate();
    const answer = await this.send('validate-dead', 'GET', '/me', this.cookieHeader(dead.cookies, SESSION_COOKIE));
    if (answer.status === 200) this.counters.revokedAccepted++;
  }

  /** Replays a dead session's cookies on a hybrid read: accepted only inside the JWT's lifetime. */
  async replayDeadHybrid(): Promise<void> {
    const dead = this.dead[Math.floor(Math.random() * this.dead.length)];
    if (!dead) return this.hybridRead();
    const answer = await this.send('hybrid-dead', 'GET', '/hybrid', this.cookieHeader(dead.cookies));
    if (answer.status !== 200) return;
    if (answer.sentAt <= dead.jwtSetAt + this.settings.jwtWindowMs) this.counters.hybridWindowAccepted++;
    else this.counters.revokedAccepted++;
  }

  /** Tokens never issued: a live id with another secret, a fresh random token, a forged refresh token. */
  async forge(): Promise<void> {
    const held = this.pickLive();
    const tokens = [generateSessionToken().token];
    if (held) tokens.push(`${held.id}.${generateSessionToken().token.split('.')[1]}`);
    for (const token of tokens) {
      const answer = await this.send('forged', 'GET', '/me', `${SESSION_COOKIE}=${token}`);
      if (answer.status === 200) this.counters.forgedAccepted++;
    }
    if (this.family) {
      const forged = `${this.family.familyId}.${generateSessionToken().token.split('.')[1]}`;
      const answer = await this.send('forged-refresh', 'POST', '/token/refresh', '', { refreshToken: forged });
      if (answer.status === 200) this.counters.forgedAccepted++;
    }
  }

  /** One step of the mix. */
  async step(): Promise<void> {
    if (this.live.size === 0) return this.login();
    const roll = Math.random();
    if (roll < 0.08) return this.live.size < MAX_LIVE ? this.login() : this.validate();
    if (roll < 0.36) return this.validate();
    if (roll < 0.56) return this.hybridRead();
    if (roll < 0.62) return this.mutate('touch');
    if (roll < 0.68) return this.mutate('rotate');
    if (roll < 0.72) return this.mutate('logout');
    if (roll < 0.74) return this.mutate('logout-others');
    if (roll < 0.86) return this.refresh();
    if (roll < 0.92) return this.replayDead();
    if (roll < 0.96) return this.replayDeadHybrid();
    return this.forge();
  }

  async run(until: () => boolean): Promise<void> {
    while (!until() && !this.retired) {
      await this.step();
      await new Promise((resolve) => setTimeout(resolve, Math.random() * this.settings.thinkMs));
    }
  }
}
