import { MemoryStore, type SessionData, type SessionEvent, type SessionManagerOptions } from '../../src/index.js';
import { SessionManager } from '../../src/manager.js';
import { createTestClock, instrumentStore } from '../../src/testing/index.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/**
 * A manager on a real MemoryStore, wrapped by `instrumentStore` (counts calls, injects outages),
 * with a test clock and every event captured.
 */
export function setup<D extends SessionData = SessionData>(
  options: Partial<SessionManagerOptions<D>> & { maxSessions?: number } = {},
) {
  const clock = createTestClock();
  const memory = new MemoryStore<D>({ maxSessions: options.maxSessions });
  const probe = instrumentStore<D>(memory);
  const events: SessionEvent[] = [];
  const sessions = new SessionManager<D>({
    store: probe.store,
    clock,
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { clock, memory, probe, events, sessions };
}

/** The `Cookie` request header a browser would send back for a Set-Cookie value. */
export function cookieHeaderFrom(setCookie: string | undefined): string {
  if (!setCookie) throw new Error('no Set-Cookie value');
  return setCookie.split(';')[0] as string;
}

export function eventTypes(events: SessionEvent[]): string[] {
  return events.map((e) => ('reason' in e && e.reason ? `${e.type}:${e.reason}` : e.type));
}
