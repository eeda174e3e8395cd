import { SessionError } from '../errors.js';
import type { RefreshFamilyStore, SessionStore } from '../store.js';
import type { SessionData } from '../types.js';

type StoreMethod = Exclude<keyof (SessionStore & RefreshFamilyStore), 'close' | 'getSync'>;

export interface InstrumentedStore<D extends SessionData = SessionData> {
  /** The wrapped store: every call goes to the real one underneath. */
  store: SessionStore<D>;
  /** Calls per method since the last reset. */
  calls: Record<StoreMethod, number>;
  /** Calls that wrote (create, update, rotate, delete, deleteByUser, setUserEpoch, deleteAll, refresh writes). */
  writes(): number;
  total(): number;
  reset(): void;
  /**
   * Fault injection for outage tests: `error` makes every call reject like a lost connection,
   * `hang` makes every call wait for ever (the manager's timeout must fire), `null` heals.
   */
  fail(mode: 'error' | 'hang' | null): void;
}

const methods: StoreMethod[] = [
  'create',
  'get',
  'update',
  'touch',
  'rotate',
  'delete',
  'listByUser',
  'deleteByUser',
  'setUserEpoch',
  'getUserEpoch',
  'deleteAll',
  'createRefreshFamily',
  'getRefreshFamily',
  'updateRefreshFamily',
];
const writeMethods = new Set<StoreMethod>([
  'create',
  'update',
  'touch',
  'rotate',
  'delete',
  'deleteByUser',
  'setUserEpoch',
  'deleteAll',
  'createRefreshFamily',
  'updateRefreshFamily',
]);

/**
 * Wraps a real store to count its calls and to inject outages. Not a mock: data goes through.
 *
 * @example
 * ```ts
 * const probe = instrumentStore(new MemoryStore())
 * const sessions = createSessionManager({ store: probe.store })
 * probe.fail('hang') // next validations time out as STORE_UNAVAILABLE
 * expect(probe.writes()).toBe(0)
 * ```
 */
export function instrumentStore<D extends SessionData>(inner: SessionStore<D>): InstrumentedStore<D> {
  const calls = Object.fromEntries(methods.map((m) => [m, 0])) as Record<StoreMethod, number>;
  let mode: 'error' | 'hang' | null = null;
  const store = {} as SessionStore<D>;
  const target = inner as SessionStore<D> & Partial<RefreshFamilyStore>;
  for (const method of methods) {
    // Only what the store has: a store of sessions alone stays one (isRefreshFamilyStore).
    if (typeof target[method] !== 'function') continue;
    (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      calls[method]++;
      if (mode === 'error') return Promise.reject(new SessionError('STORE_UNAVAILABLE', 'injected outage'));
      if (mode === 'hang') return new Promise(() => {});
      return (target[method] as (...a: unknown[]) => Promise<unknown>).apply(inner, args);
    };
  }
  if (inner.close) store.close = () => inner.close?.() ?? Promise.resolve();
  return {
    store,
    calls,
    writes: () => methods.filter((m) => writeMethods.has(m)).reduce((n, m) => n + calls[m], 0),
    total: () => methods.reduce((n, m) => n + calls[m], 0),
    reset: () => {
      for (const m of methods) calls[m] = 0;
    },
    fail: (next) => {
      mode = next;
    },
  };
}
