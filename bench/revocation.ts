/**
 * Revocation section: how long after `revoke()` a subscribed JWT verifier refuses the session,
 * over Redis pub/sub and PostgreSQL NOTIFY/LISTEN, p50 and p99 in one run.
 *
 * Per sample: a session is created (not timed), then `revoke()` is called; the clock stops when the
 * notice reaches the verifier's revocation list, from which point every verification of that
 * session's JWTs is refused (the check is synchronous). Two figures: from the call (store delete,
 * then publish, then delivery) and from the moment `revoke()` resolved (delivery left after the
 * caller is told "revoked"; 0 when the notice arrived first). Publisher and subscriber run in this
 * process on their own connections, on loopback. Needs Redis at REDIS_URL and PostgreSQL at
 * SESSION_TEST_PG_URL (defaults: the local test servers); a missing one is skipped with a note.
 */
import { randomBytes } from 'node:crypto';
import {
  createSessionManager,
  type RevocationChannel,
  type RevocationNotice,
  type SessionStore,
} from '@org/session-core';
import { createRevocationList } from '@org/session-core/jwt';
import { PostgresRevocationChannel, PostgresStore } from '@org/session-store-postgres';
import { RedisRevocationChannel, RedisStore } from '@org/session-store-redis';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_URL = process.env.SESSION_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SAMPLES = process.env.BENCH_QUICK ? 30 : 300;

interface Row {
  channel: string;
  samples: number;
  fromCall: number[];
  afterReturn: number[];
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function measure(
  label: string,
  store: SessionStore & { close?(): Promise<void> },
  publisher: RevocationChannel,
  subscriber: RevocationChannel,
): Promise<Row> {
  const arrivals = new Map<string, number>();
  let waiting: { sid: string; resolve: () => void } | null = null;
  // The list subscribes through this wrapper, which notes when each notice has been applied.
  const timed: RevocationChannel = {
    publish: (notice) => subscriber.publish(notice),
    subscribe: (sink) =>
      subscriber.subscribe({
        status: (state, reason) => sink.status(state, reason),
        notice: (notice: RevocationNotice) => {
          sink.notice(notice);
          if (notice.kind !== 'session') return;
          arrivals.set(notice.sid, performance.now());
          if (waiting?.sid === notice.sid) waiting.resolve();
        },
      }),
  };
  const list = createRevocationList({ channel: timed });
  await list.ready(5000);
  const manager = createSessionManager({ store, revocation: { channel: publisher }, maxSessionsPerUser: null });
  const row: Row = { channel: label, samples: 0, fromCall: [], afterReturn: [] };
  const userId = `bench-${randomBytes(4).toString('hex')}`;
  for (let i = 0; i < SAMPLES + 10; i++) {
    const { session } = await manager.create({ userId });
    const arrived = new Promise<void>((resolve, reject) => {
      waiting = { sid: session.id, resolve };
      setTimeout(() => reject(new Error(`${label}: no notice within 5 s`)), 5000).unref();
    });
    const called = performance.now();
    await manager.revoke(session.id);
    const returned = performance.now();
    await arrived;
    const at = arrivals.get(session.id) as number;
    arrivals.delete(session.id);
    if (!list.isRevoked({ sid: session.id, sub: userId, iat: Math.floor(Date.now() / 1000) })) {
      throw new Error(`${label}: the list did not hold the notice`);
    }
    // The first ten warm connections and prepared statements.
    if (i < 10) continue;
    row.fromCall.push(at - called);
    row.afterReturn.push(Math.max(0, at - returned));
    row.samples++;
  }
  await list.close();
  return row;
}

function table(rows: Row[]): string {
  const lines = [
    '| channel | samples | revoke() call → refused, p50 | p99 | after revoke() resolved, p50 | p99 |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const call = [...row.fromCall].sort((a, b) => a - b);
    const after = [...row.afterReturn].sort((a, b) => a - b);
    const ms = (v: number) => `${v.toFixed(2)} ms`;
    lines.push(
      `| ${row.channel} | ${row.samples} | ${ms(percentile(call, 50))} | ${ms(percentile(call, 99))} | ${ms(percentile(after, 50))} | ${ms(percentile(after, 99))} |`,
    );
  }
  return lines.join('\n');
}

export async function run(): Promise<string> {
  console.log('\n## Revocation propagation: revoke() to a subscribed verifier refusing\n');
  const rows: Row[] = [];
  const notes: string[] = [];

  const redisPrefix = `bench:revocation:${randomBytes(4).toString('hex')}:`;
  const redisStore = new RedisStore({ url: REDIS_URL, prefix: redisPrefix });
  const redisPublisher = new RedisRevocationChannel({
    client: redisStore.client,
    channel: `${redisPrefix}revocations`,
  });
  const redisSubscriber = new RedisRevocationChannel({ url: REDIS_URL, channel: `${redisPrefix}revocations` });
  try {
    rows.push(await measure('Redis pub/sub', redisStore, redisPublisher, redisSubscriber));
  } catch (error) {
    notes.push(`Redis skipped: ${(error as Error).message}`);
  } finally {
    await redisSubscriber.close();
    await redisStore.close();
  }

  const schema = `bench_revocation_${randomBytes(4).toString('hex')}`;
  const pgStore = new PostgresStore({ connectionString: PG_URL, schema });
  const pgChannel = `${schema}_notices`;
  const pgPublisher = new PostgresRevocationChannel({ connectionString: PG_URL, channel: pgChannel });
  const pgSubscriber = new PostgresRevocationChannel({ connectionString: PG_URL, channel: pgChannel });
  try {
    await pgStore.migrate();
    rows.push(await measure('PostgreSQL NOTIFY/LISTEN', pgStore, pgPublisher, pgSubscriber));
  } catch (error) {
    notes.push(`PostgreSQL skipped: ${(error as Error).message}`);
  } finally {
    await pgSubscriber.close();
    await pgPublisher.close();
    await pgStore.close();
    // The schema was this run's own.
    const { Client } = await import('pg');
    const admin = new Client({ connectionString: PG_URL });
    await admin
      .connect()
      .then(() => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
      .catch(() => {});
    await admin.end().catch(() => {});
  }

  const text = [table(rows), ...notes.map((n) => `\n${n}`)].join('\n');
  console.log(text);
  return text;
}
