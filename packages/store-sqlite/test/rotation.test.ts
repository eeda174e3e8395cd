import { join } from 'node:path';
import { createSessionManager, isSessionError, type SessionRecord } from '@org/session-core';
import { createTestClock, randomString, sessionRecordFixture } from '@org/session-core/testing';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/index.js';
import { tempDir } from './helpers.js';

const MINUTE = 60_000;
const temp = tempDir('rotation');
afterAll(() => temp.remove());

let files = 0;
const freshPath = () => join(temp.dir, `rotation-${++files}.db`);

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (error: unknown) => error,
  );
}

/** What the manager hands to `rotate`: a new id and secret, the same user, createdAt and data. */
const successorOf = (old: SessionRecord, now: number) =>
  sessionRecordFixture(now, { userId: old.userId, createdAt: old.createdAt, data: old.data });

const ids = (records: SessionRecord[]) => records.map((r) => r.id).sort();

describe('SqliteStore rotation (item 3) on a file', () => {
  const clock = createTestClock();

  it('item 3: a successor id that exists is STORE_CONFLICT and leaves both records, also when there was nothing to rotate', async () => {
    const store = new SqliteStore({ path: freshPath(), migrate: true });
    try {
      const now = clock.now();
      const userId = `user-${randomString(9)}`;
      const [old, other] = [sessionRecordFixture(now, { userId }), sessionRecordFixture(now, { userId })];
      for (const r of [old, other]) await store.create(r, now);
      const clash = { ...successorOf(old, now), id: other.id };
      expect(isSessionError(await errorOf(store.rotate(old.id, old.version, clash, now)), 'STORE_CONFLICT')).toBe(true);
      expect(await store.get(old.id, now)).toEqual(old);
      expect(await store.get(other.id, now)).toEqual(other);
      // A stale version and a taken id: the id is still the caller's error (as on every store).
      const stale = await errorOf(store.rotate(old.id, old.version + 1, clash, now));
      expect(isSessionError(stale, 'STORE_CONFLICT')).toBe(true);
      expect(ids(await store.listByUser(userId, now))).toEqual(ids([old, other]));
    } finally {
      await store.close();
    }
  });

  it('item 3: a rotate whose insert fails after its delete ran rolls back and leaves the old record (the manager keeps the old token)', async () => {
    const path = freshPath();
    const store = new SqliteStore({ path, migrate: true });
    const sessions = createSessionManager({ store, clock });
    try {
      const issued = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
      // A real failure inside the transaction, after the old row is gone: the file refuses every
      // new session row (as a full disk or a failing constraint would).
      store.database.exec(
        "CREATE TRIGGER refuse_sessions BEFORE INSERT ON session_store_sessions BEGIN SELECT RAISE(ABORT, 'refused'); END",
      );
      const now = clock.now();
      const old = (await store.get(issued.session.id, now)) as SessionRecord;
      const successor = successorOf(old, now);
      const error = await errorOf(store.rotate(old.id, old.version, successor, now));
      expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect(store.database.inTransaction).toBe(false);
      expect(await store.get(old.id, now)).toEqual(old);
      expect(await store.get(successor.id, now)).toBeNull();
      expect(ids(await store.listByUser(old.userId, now))).toEqual([old.id]);

      const rotation = await errorOf(sessions.rotate(issued.session));
      expect(isSessionError(rotation, 'STORE_UNAVAILABLE')).toBe(true);
      expect((await sessions.validateToken(issued.token)).status).toBe('valid');

      store.database.exec('DROP TRIGGER refuse_sessions');
      const rotated = await sessions.rotate(issued.session);
      expect((await sessions.validateToken(issued.token)).session).toBeNull();
      expect((await sessions.validateToken(rotated.token)).session?.data).toEqual({ role: 'member' });
    } finally {
      await store.close();
    }
  });

  it('item 3: a rotate on a file locked by another connection is STORE_UNAVAILABLE (busy) and leaves the old record', async () => {
    const path = freshPath();
    const store = new SqliteStore({ path, migrate: true, busyTimeoutMs: 50 });
    const sessions = createSessionManager({ store, clock });
    const other = new Database(path);
    try {
      const issued = await sessions.create({ userId: `user-${randomString(9)}` });
      const now = clock.now();
      const old = (await store.get(issued.session.id, now)) as SessionRecord;
      other.exec('BEGIN IMMEDIATE');
      const error = await errorOf(store.rotate(old.id, old.version, successorOf(old, now), now));
      expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect((error as { reason?: string }).reason).toBe('busy');
      // Through the manager: no new token, the old one still works (reads go on under the lock).
      expect(isSessionError(await errorOf(sessions.rotate(issued.session)), 'STORE_UNAVAILABLE')).toBe(true);
      expect((await sessions.validateToken(issued.token)).status).toBe('valid');
      expect(ids(await store.listByUser(old.userId, now))).toEqual([old.id]);
      other.exec('ROLLBACK');
      expect(await store.rotate(old.id, old.version, successorOf(old, now), now)).toBe(true);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await store.close();
    }
  });

  it('item 3: parallel rotations of one session from two store instances on the same file have one winner', async () => {
    const path = freshPath();
    const first = new SqliteStore({ path, migrate: true });
    const second = new SqliteStore({ path });
    try {
      const now = clock.now();
      const old = sessionRecordFixture(now);
      await first.create(old, now);
      const successors = Array.from({ length: 20 }, () => successorOf(old, now));
      const won = await Promise.all(
        successors.map((next, i) => (i % 2 === 0 ? first : second).rotate(old.id, old.version, next, now)),
      );
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = successors[won.indexOf(true)] as SessionRecord;
      for (const store of [first, second]) {
        expect(await store.get(old.id, now)).toBeNull();
        expect(ids(await store.listByUser(old.userId, now))).toEqual([winner.id]);
      }
      const count = first.database.prepare('SELECT count(*) FROM session_store_sessions').pluck().get();
      expect(count).toBe(1);
    } finally {
      await second.close();
      await first.close();
    }
  });

  it('item 3: rotations on one store instance racing "log out everywhere" on another leave no live successor', async () => {
    const path = freshPath();
    const rotating = new SqliteStore({ path, migrate: true });
    const revoking = new SqliteStore({ path });
    const a = createSessionManager({ store: rotating, clock });
    const b = createSessionManager({ store: revoking, clock });
    try {
      const userId = `user-${randomString(9)}`;
      const issued = await Promise.all(Array.from({ length: 40 }, () => a.create({ userId })));
      const rotations = issued.map((i) => a.rotate(i.session).then((r) => r.token));
      const settled = await Promise.allSettled([...rotations, b.revokeAll(userId)]);
      const tokens = issued.map((i) => i.token);
      for (const outcome of settled.slice(0, -1)) {
        if (outcome.status === 'fulfilled') tokens.push(outcome.value as string);
        else expect(isSessionError(outcome.reason, 'SESSION_NOT_FOUND', 'SESSION_REVOKED')).toBe(true);
      }
      expect(settled.at(-1)?.status).toBe('fulfilled');
      for (const manager of [a, b]) {
        for (const token of tokens) expect((await manager.validateToken(token)).session).toBeNull();
        expect(await manager.list(userId)).toEqual([]);
      }
    } finally {
      await revoking.close();
      await rotating.close();
    }
  });
});

describe('SqliteStore user epochs on a file', () => {
  const clock = createTestClock();

  it('get and listByUser hide the rows an epoch revokes, spare the kept one, and another connection sees the same', async () => {
    const path = freshPath();
    const store = new SqliteStore({ path, migrate: true });
    const reader = new SqliteStore({ path, readonly: true });
    try {
      const now = clock.now();
      const userId = `user-${randomString(9)}`;
      const old = sessionRecordFixture(now, { userId, createdAt: now - 5 });
      const kept = sessionRecordFixture(now, { userId, createdAt: now - 5 });
      const fresh = sessionRecordFixture(now, { userId, createdAt: now });
      const bystander = sessionRecordFixture(now, { createdAt: now - 5 });
      for (const r of [old, kept, fresh, bystander]) await store.create(r, now);
      await store.setUserEpoch(userId, { validAfter: now, keep: kept.id }, now + MINUTE, now);
      for (const s of [store, reader]) {
        expect(await s.get(old.id, now)).toBeNull();
        expect(await s.get(kept.id, now)).toEqual(kept);
        expect(await s.get(fresh.id, now)).toEqual(fresh);
        expect(await s.get(bystander.id, now)).toEqual(bystander);
        expect(ids(await s.listByUser(userId, now))).toEqual(ids([kept, fresh]));
        expect(await s.getUserEpoch(userId, now)).toEqual({ validAfter: now, keep: kept.id });
      }
      // The hidden row is still in the file: only the epoch hides it (deleteByUser removes it).
      expect(store.database.prepare('SELECT count(*) FROM session_store_sessions').pluck().get()).toBe(4);
      // A revoked record may still be updated (a touch that raced the revocation); it stays hidden.
      expect(await store.update({ ...old, version: 2, lastSeenAt: now + 1 }, 1, now)).toBe(true);
      expect(await store.get(old.id, now)).toBeNull();
      expect(ids(await store.listByUser(userId, now))).toEqual(ids([kept, fresh]));
    } finally {
      await reader.close();
      await store.close();
    }
  });

  it('epochs only move forward: an earlier one is ignored, an equal one replaces (keep and expiry too), a later one wins', async () => {
    const store = new SqliteStore({ path: freshPath(), migrate: true });
    try {
      const now = clock.now();
      const userId = `user-${randomString(9)}`;
      const kept = sessionRecordFixture(now, { userId, createdAt: now - 1 });
      await store.create(kept, now);
      await store.setUserEpoch(userId, { validAfter: now, keep: kept.id }, now + MINUTE, now);
      await store.setUserEpoch(userId, { validAfter: now - 1, keep: null }, now + 5 * MINUTE, now);
      expect(await store.getUserEpoch(userId, now)).toEqual({ validAfter: now, keep: kept.id });
      expect(await store.get(kept.id, now)).toEqual(kept);
      expect(await store.getUserEpoch(userId, now + MINUTE)).toBeNull(); // the earlier one's expiry was not taken

      await store.setUserEpoch(userId, { validAfter: now, keep: null }, now + 2 * MINUTE, now);
      expect(await store.getUserEpoch(userId, now + MINUTE)).toEqual({ validAfter: now, keep: null });
      expect(await store.get(kept.id, now)).toBeNull();

      await store.setUserEpoch(userId, { validAfter: now + 10, keep: kept.id }, now + 3 * MINUTE, now);
      expect(await store.getUserEpoch(userId, now)).toEqual({ validAfter: now + 10, keep: kept.id });
      expect(await store.get(kept.id, now)).toEqual(kept);
      const rows = store.database.prepare('SELECT * FROM session_store_user_epochs').all();
      expect(rows).toEqual([
        { user_id: userId, valid_after: now + 10, keep_id: kept.id, expires_at: now + 3 * MINUTE },
      ]);
    } finally {
      await store.close();
    }
  });

  it('an epoch past its expires_at no longer counts, any epoch replaces it, and sweep() deletes it', async () => {
    const store = new SqliteStore({ path: freshPath(), migrate: true });
    try {
      const now = clock.now();
      const userId = `user-${randomString(9)}`;
      const r = sessionRecordFixture(now, { userId, createdAt: now - 1, idleExpiresAt: null });
      await store.create(r, now);
      await store.setUserEpoch(userId, { validAfter: now, keep: null }, now + MINUTE, now);
      expect(await store.get(r.id, now + MINUTE - 1)).toBeNull();
      expect(await store.get(r.id, now + MINUTE)).toEqual(r);
      expect(await store.getUserEpoch(userId, now + MINUTE)).toBeNull();

      // Held no longer: an earlier epoch written after its expiry takes its place.
      await store.setUserEpoch(userId, { validAfter: now - 10, keep: null }, now + 3 * MINUTE, now + MINUTE);
      expect(await store.getUserEpoch(userId, now + MINUTE)).toEqual({ validAfter: now - 10, keep: null });
      expect(await store.get(r.id, now + MINUTE)).toEqual(r);

      const other = `user-${randomString(9)}`;
      await store.setUserEpoch(other, { validAfter: now, keep: null }, now + MINUTE, now);
      expect(await store.sweep({ now: now + MINUTE })).toMatchObject({ sessions: 0, userEpochs: 1, done: true });
      expect(await store.sweep({ now: now + 3 * MINUTE })).toMatchObject({ userEpochs: 1 });
      expect(store.database.prepare('SELECT count(*) FROM session_store_user_epochs').pluck().get()).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('get and listByUser read the epoch in the same statement (one join, the user epochs primary key)', async () => {
    const store = new SqliteStore({ path: freshPath(), migrate: true });
    try {
      await store.get(randomString(16), clock.now()); // prepares the statement store
      const plan = (sql: string) =>
        (
          store.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ 1: 'a', 2: 1, 3: 5, 4: '' }) as {
            detail: string;
          }[]
        ).map((r) => r.detail);
      // Shared statements are prepared on first use, through this accessor.
      const shared = (store as unknown as { statements: { shared: (name: string) => { source: string } } }).statements
        .shared;
      const statements = { getSession: shared('getSession'), listByUser: shared('listByUser') };
      for (const name of ['getSession', 'listByUser'] as const) {
        const source = statements[name].source;
        expect(source).toMatch(/LEFT JOIN "session_store_user_epochs"/);
        const steps = plan(source);
        expect(steps).toHaveLength(2);
        expect(steps[1]).toMatch(/SEARCH e USING INDEX sqlite_autoindex_session_store_user_epochs_1 \(user_id=\?\)/);
      }
      expect(plan(statements.listByUser.source)[0]).toContain('session_store_sessions_user_id_idx');
    } finally {
      await store.close();
    }
  });
});
