import type { SessionEvent, SessionEventListener } from './events.js';

/**
 * An operation the manager reports to its {@link SessionInstrumentation}: one of its own
 * (`session.validate`, `session.create`, `session.rotate`, `session.revoke`, `session.refresh`) or
 * one store call (`session.store.get`, `session.store.update`, ...). Made once per manager and
 * reused for every call, so reporting allocates nothing of its own.
 */
export interface InstrumentedOperation {
  /** `session.validate`, ..., or `session.store.<method>`. */
  readonly name: string;
  readonly kind: 'session' | 'store';
  /** The store method for `kind: 'store'` (`get`, `update`, ...); the manager method otherwise. */
  readonly method: string;
  /** The store's kind: `memory`, `redis`, `postgres`, `sqlite`, or its class name in lower case. */
  readonly store: string;
}

/**
 * How an operation ended, read from its result. A validation passes its result as it is (its
 * `status`, and the error of a failed one); other operations a shared constant. Never carries a
 * token, secret or session id.
 */
export interface InstrumentedOutcome {
  readonly status: string;
  readonly error?: { readonly code: string; readonly reason?: string | undefined } | null;
}

/**
 * The hook a manager reports through when `instrumentation` is set; `@org/session-opentelemetry`
 * implements it on OpenTelemetry. Without it nothing is wrapped: a manager without instrumentation
 * runs exactly the code it runs today.
 *
 * @example
 * ```ts
 * // Logs the duration of every operation and store call (a binding to your own telemetry).
 * const instrumentation: SessionInstrumentation = {
 *   run(operation, fn, outcomeOf) {
 *     const started = performance.now()
 *     const report = (outcome: string) => log(operation.name, outcome, performance.now() - started)
 *     const result = fn()
 *     if (result instanceof Promise) {
 *       return result.then((value) => (report(outcomeOf(value).status), value),
 *         (error) => { report('error'); throw error }) as typeof result
 *     }
 *     report(outcomeOf(result as Awaited<typeof result>).status)
 *     return result
 *   },
 * }
 * ```
 */
export interface SessionInstrumentation {
  /**
   * Runs `fn` (one operation) and reports it. It must return what `fn` returns: the same value, or
   * a promise settling as `fn`'s does, with no extra work for the caller to wait on; `outcomeOf`
   * describes a result, a throw or rejection is the error itself. It must never throw on its own.
   */
  run<T>(operation: InstrumentedOperation, fn: () => T, outcomeOf: (result: Awaited<T>) => InstrumentedOutcome): T;
  /** Every event the manager emits, like an `onEvent` listener (to count logins, revocations, reuse). */
  onEvent?: SessionEventListener;
}

const OK: InstrumentedOutcome = Object.freeze({ status: 'ok' });
const REVOKED: InstrumentedOutcome = Object.freeze({ status: 'revoked' });
const NOT_REVOKED: InstrumentedOutcome = Object.freeze({ status: 'not_found' });
const ok = (): InstrumentedOutcome => OK;

/** The manager methods reported, by operation name; validateCookie and validateToken are both validations. */
const managerOperations: ReadonlyArray<
  readonly [method: string, name: string, outcomeOf: (r: never) => InstrumentedOutcome]
> = [
  ['validateCookie', 'session.validate', (result: InstrumentedOutcome) => result],
  ['validateToken', 'session.validate', (result: InstrumentedOutcome) => result],
  ['create', 'session.create', ok],
  ['rotate', 'session.rotate', ok],
  ['revoke', 'session.revoke', (deleted: boolean) => (deleted ? REVOKED : NOT_REVOKED)],
];

/** Which instrumentation each manager reports to, for the modules built on it (refresh tokens). */
const attached = new WeakMap<object, { instrumentation: SessionInstrumentation; store: string }>();

/**
 * The store's kind for attributes: its class name without `Store`, in lower case (`MemoryStore`
 * is `memory`, `RedisStore` is `redis`), `custom` for a plain object.
 */
export function storeKindOf(store: object): string {
  const name = (store as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof name !== 'string' || name === '' || name === 'Object') return 'custom';
  return name.replace(/Store$/, '').toLowerCase() || 'custom';
}

/**
 * A view of `store` whose every method reports a `session.store.<method>` operation. It inherits
 * from the store, so flags and optional methods read as they do on the store itself, and calls the
 * store's own method with the store as `this`.
 */
export function instrumentStore<S extends object>(store: S, instrumentation: SessionInstrumentation): S {
  const view = Object.create(store) as Record<string, unknown>;
  const kind = storeKindOf(store);
  for (const method of methodNames(store)) {
    if (method === 'close') continue;
    const original = (store as unknown as Record<string, Method>)[method] as Method;
    const operation: InstrumentedOperation = Object.freeze({
      name: `session.store.${method}`,
      kind: 'store',
      method,
      store: kind,
    });
    // Fixed arity where the method declares at most four parameters: no rest array on the
    // request path.
    view[method] =
      original.length <= 4
        ? (a: unknown, b: unknown, c: unknown, d: unknown) =>
            instrumentation.run(operation, () => original.call(store, a, b, c, d), ok)
        : (...args: unknown[]) => instrumentation.run(operation, () => original.apply(store, args), ok);
  }
  return view as unknown as S;
}

/** Reports the manager's operations: own properties that wrap the class's methods. */
export function instrumentManager(manager: object, instrumentation: SessionInstrumentation, store: object): void {
  const kind = storeKindOf(store);
  attached.set(manager, { instrumentation, store: kind });
  const target = manager as Record<string, (...args: unknown[]) => unknown>;
  for (const [method, name, outcomeOf] of managerOperations) {
    const original = target[method];
    if (typeof original !== 'function') continue;
    const operation: InstrumentedOperation = Object.freeze({ name, kind: 'session', method, store: kind });
    Object.defineProperty(manager, method, {
      configurable: true,
      writable: true,
      // Fixed arity, no rest array: the reported methods take at most two parameters today (four
      // pass through, and a missing one arrives as undefined, which takes its default).
      value: (a: unknown, b: unknown, c: unknown, d: unknown) =>
        instrumentation.run(
          operation,
          () => original.call(manager, a, b, c, d),
          outcomeOf as (r: unknown) => InstrumentedOutcome,
        ),
    });
  }
}

/**
 * Reports `refresh` of a refresh-token module built on `manager` as `session.refresh`, when the
 * manager has instrumentation; otherwise leaves it alone.
 */
export function instrumentRefresh(refreshTokens: object, manager: object): void {
  const found = attached.get(manager);
  if (!found) return;
  const target = refreshTokens as Record<string, (...args: unknown[]) => unknown>;
  const original = target.refresh;
  if (typeof original !== 'function') return;
  const operation: InstrumentedOperation = Object.freeze({
    name: 'session.refresh',
    kind: 'session',
    method: 'refresh',
    store: found.store,
  });
  Object.defineProperty(refreshTokens, 'refresh', {
    configurable: true,
    writable: true,
    value: (...args: unknown[]) => found.instrumentation.run(operation, () => original.apply(refreshTokens, args), ok),
  });
}

/** The manager's event listeners with the instrumentation's own appended. */
export function withInstrumentationListener(
  listeners: SessionEventListener | readonly SessionEventListener[] | undefined,
  instrumentation: SessionInstrumentation,
): SessionEventListener | readonly SessionEventListener[] | undefined {
  const own = instrumentation.onEvent;
  if (typeof own !== 'function') return listeners;
  const listener = (event: SessionEvent) => own.call(instrumentation, event);
  if (listeners === undefined) return [listener];
  return Array.isArray(listeners) ? [...listeners, listener] : [listeners as SessionEventListener, listener];
}

type Method = (...args: unknown[]) => unknown;

/** Function-valued properties of `store` and its prototypes (not Object's), each name once. */
function methodNames(store: object): string[] {
  const names = new Set<string>();
  for (let level: object | null = store; level && level !== Object.prototype; level = Object.getPrototypeOf(level)) {
    for (const name of Object.getOwnPropertyNames(level)) {
      if (name === 'constructor' || names.has(name)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(level, name);
      if (descriptor && typeof descriptor.value === 'function') names.add(name);
    }
  }
  return [...names];
}
