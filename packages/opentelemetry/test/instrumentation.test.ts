import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createSessionManager, MemoryStore, type SessionManager } from '@org/session-core';
import { createJwtKeySet, createSessionJwt, generateSigningKey } from '@org/session-core/jwt';
import { createRefreshTokens } from '@org/session-core/refresh';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ATTRIBUTES, METRIC_NAMES, openTelemetryInstrumentation } from '../src/index.js';

const contextManager = new AsyncLocalStorageContextManager();
const spanExporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const metricReader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [metricReader] });

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterEach(() => {
  spanExporter.reset();
});
afterAll(async () => {
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
  context.disable();
});

function managerWithTelemetry(): SessionManager {
  return createSessionManager({
    store: new MemoryStore(),
    mode: 'development',
    instrumentation: openTelemetryInstrumentation({ tracerProvider, meterProvider }),
  });
}

const spans = (): ReadableSpan[] => spanExporter.getFinishedSpans();
const named = (name: string) => spans().filter((s) => s.name === name);

/** Every data point of every metric exported so far, by metric name. */
async function collectMetrics(): Promise<Map<string, DataPoint<unknown>[]>> {
  metricExporter.reset();
  await metricReader.forceFlush();
  const byName = new Map<string, DataPoint<unknown>[]>();
  for (const resource of metricExporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) {
        byName.set(metric.descriptor.name, [...(byName.get(metric.descriptor.name) ?? []), ...metric.dataPoints]);
      }
    }
  }
  return byName;
}

function sumWhere(points: DataPoint<unknown>[] | undefined, attributes: Record<string, string>): number {
  return (points ?? [])
    .filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
    .reduce((total, p) => total + (p.value as number), 0);
}

/** Every string the exported telemetry carries: span names, attribute values, statuses, events. */
async function everyRecordedString(): Promise<string[]> {
  const found: string[] = [];
  for (const span of spans()) {
    found.push(span.name, span.status.message ?? '');
    for (const [key, value] of Object.entries(span.attributes)) found.push(key, String(value));
    for (const event of span.events) {
      found.push(event.name);
      for (const value of Object.values(event.attributes ?? {})) found.push(String(value));
    }
  }
  for (const [name, points] of await collectMetrics()) {
    found.push(name);
    for (const point of points)
      for (const [key, value] of Object.entries(point.attributes)) found.push(key, String(value));
  }
  return found;
}

describe('spans', () => {
  it('reports create, validate, rotate and revoke with a child span per store call', async () => {
    const sessions = managerWithTelemetry();
    const issued = await sessions.create({ userId: 'user-otel-1' });
    const valid = await sessions.validateCookie(`theme=dark; ${sessions.cookie.name}=${issued.token}`);
    expect(valid.status).toBe('valid');
    const rotated = await sessions.rotate(issued.session);
    expect(await sessions.revoke(rotated.session.id)).toBe(true);
    expect(await sessions.revoke(rotated.session.id)).toBe(false);

    const [create] = named('session.create');
    expect(create?.attributes).toMatchObject({
      [ATTRIBUTES.storeKind]: 'memory',
      [ATTRIBUTES.operation]: 'create',
      [ATTRIBUTES.status]: 'ok',
    });
    const [validate] = named('session.validate');
    expect(validate?.attributes).toMatchObject({
      [ATTRIBUTES.storeKind]: 'memory',
      [ATTRIBUTES.operation]: 'validateCookie',
      [ATTRIBUTES.status]: 'valid',
    });
    expect(named('session.rotate')).toHaveLength(1);
    expect(named('session.revoke').map((s) => s.attributes[ATTRIBUTES.status])).toEqual(['revoked', 'not_found']);

    // The store calls are children of the operation that made them.
    const children = (parent: ReadableSpan | undefined) =>
      spans()
        .filter((s) => s.parentSpanContext?.spanId === parent?.spanContext().spanId)
        .map((s) => s.name);
    expect(children(create)).toContain('session.store.create');
    // The memory store reads synchronously: the validation's read is getSync.
    expect(children(validate)).toEqual(['session.store.getSync']);
    const [storeRead] = named('session.store.getSync');
    expect(storeRead?.attributes).toMatchObject({
      [ATTRIBUTES.storeKind]: 'memory',
      [ATTRIBUTES.storeOperation]: 'getSync',
      [ATTRIBUTES.status]: 'ok',
    });
    expect(storeRead?.spanContext().traceId).toBe(validate?.spanContext().traceId);
  });

  it('reports a refused cookie as its status, not as an error of the library', async () => {
    const sessions = managerWithTelemetry();
    const result = await sessions.validateCookie(`${sessions.cookie.name}=not-a-token`);
    expect(result.status).toBe('malformed');
    const [validate] = named('session.validate');
    expect(validate?.attributes[ATTRIBUTES.status]).toBe('malformed');
    expect(validate?.attributes[ATTRIBUTES.errorType]).toBe('UNAUTHENTICATED');
    expect(validate?.status.code).not.toBe(2);
  });

  it('reports a thrown error by its code, with an error status and no message', async () => {
    const sessions = managerWithTelemetry();
    await expect(sessions.rotate({ id: 'AAAAAAAAAAAAAAAAAAAAAA' })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    const [rotate] = named('session.rotate');
    expect(rotate?.attributes).toMatchObject({
      [ATTRIBUTES.status]: 'error',
      [ATTRIBUTES.errorType]: 'SESSION_NOT_FOUND',
    });
    expect(rotate?.status).toEqual({ code: 2 });
    expect(rotate?.events).toEqual([]);
  });

  it('uses the global providers when none is passed', async () => {
    trace.setGlobalTracerProvider(tracerProvider);
    try {
      const sessions = createSessionManager({
        store: new MemoryStore(),
        mode: 'development',
        instrumentation: openTelemetryInstrumentation(),
      });
      await sessions.create({ userId: 'user-otel-global' });
      expect(named('session.create')).toHaveLength(1);
    } finally {
      trace.disable();
    }
  });
});

describe('refresh', () => {
  it('reports refreshes and counts refresh-token reuse', async () => {
    const sessions = managerWithTelemetry();
    const jwt = createSessionJwt({
      manager: sessions,
      keys: createJwtKeySet({ active: await generateSigningKey('HS256') }),
      issuer: 'https://otel.example',
      audience: 'otel',
    });
    const refresh = createRefreshTokens({ jwt, secret: crypto.getRandomValues(new Uint8Array(32)), graceMs: 0 });
    const { session } = await sessions.create({ userId: 'user-otel-refresh' });
    const before = sumWhere((await collectMetrics()).get(METRIC_NAMES.refreshReuse), {});
    const first = await refresh.issue(session);
    await refresh.refresh(first.refreshToken);
    await expect(refresh.refresh(first.refreshToken)).rejects.toMatchObject({ code: 'REFRESH_REUSED' });

    expect(named('session.refresh').map((s) => s.attributes[ATTRIBUTES.status])).toEqual(['ok', 'error']);
    expect(named('session.refresh')[1]?.attributes[ATTRIBUTES.errorType]).toBe('REFRESH_REUSED');
    const refreshSpan = named('session.refresh')[0];
    const familyCalls = spans().filter((s) => s.parentSpanContext?.spanId === refreshSpan?.spanContext().spanId);
    expect(familyCalls.map((s) => s.name)).toContain('session.store.getRefreshFamily');
    const after = await collectMetrics();
    expect(sumWhere(after.get(METRIC_NAMES.refreshReuse), {}) - before).toBe(1);
    expect(sumWhere(after.get(METRIC_NAMES.revoked), { [ATTRIBUTES.reason]: 'refresh_reuse' })).toBeGreaterThanOrEqual(
      1,
    );

    const secrets = [first.refreshToken, first.accessToken, session.id, 'user-otel-refresh'];
    for (const value of await everyRecordedString()) {
      for (const secret of secrets) expect(value).not.toContain(secret);
    }
  });
});

describe('metrics', () => {
  it('counts validations by status, times them, and counts logins and revocations', async () => {
    const sessions = managerWithTelemetry();
    const before = await collectMetrics();
    const issued = await sessions.create({ userId: 'user-otel-metrics' });
    for (let i = 0; i < 3; i++) await sessions.validateToken(issued.token);
    await sessions.validateCookie(undefined);
    await sessions.validateCookie(`${sessions.cookie.name}=garbage`);
    const other = await sessions.create({ userId: 'user-otel-metrics' });
    expect(await sessions.revoke(other.session.id, { reason: 'an app reason naming user-otel-metrics' })).toBe(true);
    await sessions.revokeAll('user-otel-metrics');
    const after = await collectMetrics();

    const delta = (name: string, attributes: Record<string, string>) =>
      sumWhere(after.get(name), attributes) - sumWhere(before.get(name), attributes);
    expect(delta(METRIC_NAMES.validations, { [ATTRIBUTES.status]: 'valid', [ATTRIBUTES.storeKind]: 'memory' })).toBe(3);
    expect(delta(METRIC_NAMES.validations, { [ATTRIBUTES.status]: 'absent' })).toBe(1);
    expect(delta(METRIC_NAMES.validations, { [ATTRIBUTES.status]: 'malformed' })).toBe(1);
    expect(delta(METRIC_NAMES.created, {})).toBe(2);
    expect(delta(METRIC_NAMES.revoked, { [ATTRIBUTES.reason]: 'custom' })).toBe(1);
    expect(delta(METRIC_NAMES.revoked, { [ATTRIBUTES.reason]: 'revoked_all' })).toBe(1);

    const durations = (after.get(METRIC_NAMES.validationDuration) ?? []).filter(
      (p) => p.attributes[ATTRIBUTES.status] === 'valid',
    );
    const count = durations.reduce((n, p) => n + (p.value as Histogram).count, 0);
    const countBefore = (before.get(METRIC_NAMES.validationDuration) ?? [])
      .filter((p) => p.attributes[ATTRIBUTES.status] === 'valid')
      .reduce((n, p) => n + (p.value as Histogram).count, 0);
    expect(count - countBefore).toBe(3);
    const histogram = durations[0]?.value as Histogram;
    expect(histogram.min).toBeGreaterThan(0);
    // Seconds: a validation on the memory store takes far less than one.
    expect(histogram.max).toBeLessThan(1);

    const recorded = await everyRecordedString();
    // An app's own revocation reason is recorded as `custom`, never as given.
    expect(recorded).not.toContain('an app reason naming user-otel-metrics');
    const [id, secret] = [issued.session.id, issued.token.slice(issued.session.id.length + 1)];
    for (const value of recorded) {
      for (const forbidden of [issued.token, id, secret, 'user-otel-metrics']) expect(value).not.toContain(forbidden);
    }
  });
});

describe('without an SDK', () => {
  it('calls straight through: the same results, nothing recorded, nothing thrown', async () => {
    expect(trace.getTracerProvider().getTracer('probe').startSpan('probe').isRecording()).toBe(false);
    const sessions = createSessionManager({
      store: new MemoryStore(),
      mode: 'development',
      instrumentation: openTelemetryInstrumentation(),
    });
    const issued = await sessions.create({ userId: 'user-otel-off' });
    const result = await sessions.validateToken(issued.token);
    expect(result.status).toBe('valid');
    expect(result.session?.userId).toBe('user-otel-off');
    await expect(sessions.rotate({ id: 'AAAAAAAAAAAAAAAAAAAAAA' })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    expect(spans()).toEqual([]);
    expect(metrics.getMeterProvider().getMeter('probe').createCounter('probe').constructor.name).toBe(
      'NoopCounterMetric',
    );
  });

  it('refuses an instrumentation without a run method with CONFIG_INVALID', () => {
    expect(() => createSessionManager({ store: new MemoryStore(), instrumentation: {} as never })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});
