/**
 * `@org/session-opentelemetry`: OpenTelemetry spans and metrics for `@org/session-core`, through
 * `@opentelemetry/api` only (bring your own SDK). Core never imports OpenTelemetry: it reports
 * through the structural `SessionInstrumentation` hook that this package implements.
 *
 * Nothing that identifies a session is ever recorded: no token, secret, cookie, JWT, session id
 * or user id; not even error messages (a store's may quote a key). Attributes are the operation,
 * the store's kind, the outcome and an error's code.
 */
import {
  type Attributes,
  type Context,
  type Counter,
  context,
  createNoopMeter,
  type Histogram,
  INVALID_SPAN_CONTEXT,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type {
  InstrumentedOperation,
  InstrumentedOutcome,
  SessionEvent,
  SessionInstrumentation,
} from '@org/session-core';

/** The instrumentation scope name of every span and metric. */
export const INSTRUMENTATION_NAME = '@org/session-opentelemetry';

/** The metric names, for dashboards and alerts. */
export const METRIC_NAMES = Object.freeze({
  /** Counter: validations, by `session.status` (valid, absent, malformed, invalid, expired, ...). */
  validations: 'session.validations',
  /** Histogram (seconds): how long a validation took, by `session.status`. */
  validationDuration: 'session.validation.duration',
  /** Counter: store calls that failed, by `session.store.operation` and `error.type`. */
  storeErrors: 'session.store.errors',
  /** Counter: operations that gave up on a store that did not answer in time, by `session.operation`. */
  storeTimeouts: 'session.store.timeouts',
  /** Counter: sessions created (logins). */
  created: 'session.created',
  /** Counter: revocations (one per revoke, revoke-all or eviction), by `session.reason`. */
  revoked: 'session.revoked',
  /** Counter: refresh tokens presented again after rotation (the family and session are revoked). */
  refreshReuse: 'session.refresh.reuse_detected',
});

/** Attribute keys this package sets; nothing else is ever recorded. */
export const ATTRIBUTES = Object.freeze({
  operation: 'session.operation',
  storeKind: 'session.store.kind',
  storeOperation: 'session.store.operation',
  status: 'session.status',
  errorType: 'error.type',
  errorReason: 'session.error.reason',
  reason: 'session.reason',
});

export interface OpenTelemetryInstrumentationOptions {
  /** Defaults to the global tracer provider (`trace.getTracerProvider()`), looked up at each span. */
  tracerProvider?: TracerProvider;
  /**
   * Defaults to the global meter provider, looked up at the first operation: register the SDK
   * before the first request, as for any OpenTelemetry instrumentation.
   */
  meterProvider?: MeterProvider;
}

/** Revocation reasons the library itself gives; an app's own reason is recorded as `custom`. */
const KNOWN_REASONS = new Set([
  'revoked',
  'logout',
  'replaced_on_login',
  'refresh_reuse',
  'revoked_all',
  'revoked_others',
  'revoked_everyone',
  'session_limit',
]);

/** The provider behind an unregistered global: spans from it record nothing and carry no context. */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

interface Instruments {
  validations: Counter;
  validationDuration: Histogram;
  storeErrors: Counter;
  storeTimeouts: Counter;
  created: Counter;
  revoked: Counter;
  refreshReuse: Counter;
}

/**
 * The instrumentation to pass to `createSessionManager({ instrumentation })`: a span for each
 * validation, login, rotation, revocation and refresh with a child span for each store call, and
 * the metrics in {@link METRIC_NAMES}. With no SDK registered it only calls through: no span, no
 * clock reading, no attribute.
 *
 * @example
 * ```ts
 * import { openTelemetryInstrumentation } from '@org/session-opentelemetry'
 *
 * const sessions = createSessionManager({ store, instrumentation: openTelemetryInstrumentation() })
 * ```
 */
export function openTelemetryInstrumentation(
  options: OpenTelemetryInstrumentationOptions = {},
): SessionInstrumentation {
  const tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
  const tracer: Tracer = tracerProvider.getTracer(INSTRUMENTATION_NAME);
  const globalProxy = tracerProvider instanceof ProxyTracerProvider ? tracerProvider : null;
  let instruments: Instruments | null | undefined;

  const tracingOff = () => globalProxy !== null && globalProxy.getDelegate() === NOOP_TRACER_PROVIDER;
  const metricsOf = (): Instruments | null => {
    if (instruments === undefined) instruments = createInstruments(options.meterProvider);
    return instruments;
  };

  function run<T>(
    operation: InstrumentedOperation,
    fn: () => T,
    outcomeOf: (result: Awaited<T>) => InstrumentedOutcome,
  ): T {
    // The path with no SDK registered, first and alone: two reads and a call, nothing allocated.
    if (instruments === null && globalProxy !== null && globalProxy.getDelegate() === NOOP_TRACER_PROVIDER) {
      return fn();
    }
    const meters = metricsOf();
    const tracing = !tracingOff();
    if (!tracing && meters === null) return fn();

    const span = tracing ? startSpan(tracer, operation) : null;
    const started = meters !== null && operation.kind === 'session' ? performance.now() : 0;
    const finish = (outcome: InstrumentedOutcome | null, thrown: unknown) => {
      try {
        report(operation, outcome, thrown, span, meters, started);
      } catch {
        // Telemetry must never change what the session library answers.
      }
    };
    const parent: Context | null =
      span === null || span.spanContext() === INVALID_SPAN_CONTEXT ? null : trace.setSpan(context.active(), span);
    let result: T;
    try {
      result = parent === null ? fn() : context.with(parent, fn);
    } catch (error) {
      finish(null, error);
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: Awaited<T>) => {
          finish(outcomeOf(value), undefined);
          return value;
        },
        (error: unknown) => {
          finish(null, error);
          throw error;
        },
      ) as T;
    }
    finish(outcomeOf(result as Awaited<T>), undefined);
    return result;
  }

  function onEvent(event: SessionEvent): void {
    const meters = metricsOf();
    if (meters === null) return;
    if (event.type === 'session.created') meters.created.add(1);
    else if (event.type === 'session.revoked' || event.type === 'session.evicted') {
      meters.revoked.add(1, { [ATTRIBUTES.reason]: KNOWN_REASONS.has(event.reason) ? event.reason : 'custom' });
    } else if (event.type === 'refresh.reuse_detected')
      meters.refreshReuse.add(1, { [ATTRIBUTES.reason]: event.reason });
  }

  return { run, onEvent };
}

function startSpan(tracer: Tracer, operation: InstrumentedOperation): Span {
  const attributes: Attributes =
    operation.kind === 'store'
      ? { [ATTRIBUTES.storeKind]: operation.store, [ATTRIBUTES.storeOperation]: operation.method }
      : { [ATTRIBUTES.storeKind]: operation.store, [ATTRIBUTES.operation]: operation.method };
  // A store other than memory is a call to another process.
  const kind = operation.kind === 'store' && operation.store !== 'memory' ? SpanKind.CLIENT : SpanKind.INTERNAL;
  return tracer.startSpan(operation.name, { kind, attributes });
}

/** Ends the span and records the metrics of one finished operation. */
function report(
  operation: InstrumentedOperation,
  outcome: InstrumentedOutcome | null,
  thrown: unknown,
  span: Span | null,
  meters: Instruments | null,
  started: number,
): void {
  const error = outcome ? (outcome.error ?? null) : codedError(thrown);
  const status = outcome ? outcome.status : 'error';
  if (span !== null) {
    span.setAttribute(ATTRIBUTES.status, status);
    if (error) {
      span.setAttribute(ATTRIBUTES.errorType, error.code);
      if (error.reason) span.setAttribute(ATTRIBUTES.errorReason, error.reason);
    }
    // A failed validation (no session, a bad cookie) is an answer, not an error of the library;
    // an outage or a throw is.
    if (!outcome || status === 'unavailable') span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
  if (meters === null) return;
  if (operation.kind === 'store') {
    if (!outcome) {
      meters.storeErrors.add(1, {
        [ATTRIBUTES.storeKind]: operation.store,
        [ATTRIBUTES.storeOperation]: operation.method,
        [ATTRIBUTES.errorType]: error?.code ?? 'error',
      });
    }
    return;
  }
  if (error?.code === 'STORE_UNAVAILABLE' && error.reason === 'timeout') {
    meters.storeTimeouts.add(1, { [ATTRIBUTES.storeKind]: operation.store, [ATTRIBUTES.operation]: operation.method });
  }
  if (operation.name === 'session.validate') {
    const attributes = { [ATTRIBUTES.storeKind]: operation.store, [ATTRIBUTES.status]: status };
    meters.validations.add(1, attributes);
    meters.validationDuration.record((performance.now() - started) / 1000, attributes);
  }
}

/**
 * The code of a thrown error: a SessionError's own code, otherwise the error's class name (a
 * store client's error). Never its message.
 */
function codedError(thrown: unknown): { code: string; reason?: string } {
  if (typeof thrown === 'object' && thrown !== null) {
    const { code, reason, name } = thrown as { code?: unknown; reason?: unknown; name?: unknown };
    if (name === 'SessionError' && typeof code === 'string') {
      return typeof reason === 'string' ? { code, reason } : { code };
    }
    if (typeof name === 'string' && /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) return { code: name };
  }
  return { code: 'Error' };
}

function createInstruments(meterProvider: MeterProvider | undefined): Instruments | null {
  const provider = meterProvider ?? metrics.getMeterProvider();
  const meter = provider.getMeter(INSTRUMENTATION_NAME);
  // Every no-op meter provider hands out the one shared no-op meter: nothing to record then.
  if (meter === createNoopMeter()) return null;
  return {
    validations: meter.createCounter(METRIC_NAMES.validations, { description: 'Session validations by status' }),
    validationDuration: meter.createHistogram(METRIC_NAMES.validationDuration, {
      description: 'Duration of session validations',
      unit: 's',
      advice: {
        // From a few microseconds (memory store) to the store timeout.
        explicitBucketBoundaries: [
          0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25, 0.5, 1,
        ],
      },
    }),
    storeErrors: meter.createCounter(METRIC_NAMES.storeErrors, { description: 'Session store calls that failed' }),
    storeTimeouts: meter.createCounter(METRIC_NAMES.storeTimeouts, {
      description: 'Session operations that gave up on a store that did not answer in time',
    }),
    created: meter.createCounter(METRIC_NAMES.created, { description: 'Sessions created' }),
    revoked: meter.createCounter(METRIC_NAMES.revoked, { description: 'Session revocations' }),
    refreshReuse: meter.createCounter(METRIC_NAMES.refreshReuse, {
      description: 'Refresh tokens presented again after rotation',
    }),
  };
}
