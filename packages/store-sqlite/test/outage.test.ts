import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSessionManager, isSessionError } from '@org/session-core';
import { createTestClock, randomString } from '@org/session-core/testing';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/index.js';
import { tempDir } from './helpers.js';

const temp = tempDir('outage');
afterAll(() => temp.remove());

/**
 * Makes a file read-only for this process. Root ignores mode bits, so as root the file also gets
 * the immutable attribute (chattr +i), which binds root too. Returns an undo function.
 */
function makeReadOnly(file: string): () => void {
  chmodSync(file, 0o444);
  const root = process.getuid?.() === 0;
  if (root) execFileSync('chattr', ['+i', file]);
  return () => {
    if (root) execFileSync('chattr', ['-i', file]);
    chmodSync(file, 0o644);
  };
}

/** Whether this machine lets the test make a file read-only for itself (not on every filesystem as root). */
function readOnlyFilesWork(): boolean {
  const probe = join(temp.dir, 'probe');
  writeFileSync(probe, 'x');
  let undo: (() => void) | undefined;
  try {
    undo = makeReadOnly(probe);
    closeSync(openSync(probe, 'r+'));
    return false;
  } catch {
    return undo !== undefined;
  } finally {
    try {
      undo?.();
    } catch {
      // best effort
    }
  }
}

const readOnlyWorks = readOnlyFilesWork();
if (!readOnlyWorks) {
  console.warn('Skipping the chmod read-only test: this user cannot make a file read-only for itself here');
}

/** Runs `call` and times it; the timer starts before the call, since the driver blocks synchronously. */
async function settle<T>(call: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = performance.now();
  try {
    return { value: await call(), ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

async function expectUnavailable(call: () => Promise<unknown>, reason: string): Promise<number> {
  const outcome = await settle(call);
  expect(isSessionError(outcome.error, 'STORE_UNAVAILABLE')).toBe(true);
  expect((outcome.error as { reason?: string }).reason).toBe(reason);
  return outcome.ms;
}

let counter = 0;

/** A migrated file holding one session; returns its path and the issued token. */
async function seededFile(clock: ReturnType<typeof createTestClock>) {
  const path = join(temp.dir, `seed-${++counter}.db`);
  const store = new SqliteStore({ path, migrate: true });
  const sessions = createSessionManager({ store, clock });
  const issued = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
  await store.close();
  return { path, issued };
}

/**
 * ST-04 as documented in the README: on a read-only database, reads work (a valid session stays
 * valid; its touch is skipped), every write fails with STORE_UNAVAILABLE (reason `readonly`), so
 * logins get a 503 and nobody is let in by mistake.
 */
async function checkReadOnlyBehaviour(store: SqliteStore, clock: ReturnType<typeof createTestClock>, token: string) {
  const sessions = createSessionManager({ store, clock });
  const start = clock.now();
  const valid = await sessions.validateToken(token);
  expect(valid.status).toBe('valid');
  const id = valid.session?.id as string;
  expect((await store.get(id, clock.now()))?.data).toEqual({ role: 'member' });
  expect(await store.listByUser(valid.session?.userId as string, clock.now())).toHaveLength(1);

  const record = await store.get(id, clock.now());
  const now = clock.now();
  const writes: [string, () => Promise<unknown>][] = [
    ['create', () => store.create({ ...(record as NonNullable<typeof record>), id: randomString(16) }, now)],
    ['update', () => store.update({ ...(record as NonNullable<typeof record>), version: 2 }, 1, now)],
    ['delete', () => store.delete(id)],
    ['deleteByUser', () => store.deleteByUser('anyone')],
    ['deleteAll', () => store.deleteAll()],
    [
      'createRefreshFamily',
      () =>
        store.createRefreshFamily(
          {
            id: randomString(16),
            sessionId: id,
            userId: 'u',
            generation: 1,
            currentHash: 'h',
            previousHash: null,
            rotatedAt: null,
            createdAt: now,
            lastUsedAt: now,
            idleExpiresAt: null,
            absoluteExpiresAt: now + 1,
            revokedAt: null,
          },
          now,
        ),
    ],
  ];
  for (const [, write] of writes) await expectUnavailable(write, 'readonly');

  // A touch falls due: the write fails, the read still counts (the idle deadline stays put).
  clock.advance(sessions.policy.touchIntervalMs);
  try {
    const touched = await sessions.validateToken(token);
    expect(touched.status).toBe('valid');
    expect(touched.session?.lastSeenAt).toBe(valid.session?.lastSeenAt);
  } finally {
    clock.set(start);
  }
  // Logging in needs a write: fail closed, no cookie.
  const login = await settle(() => sessions.create({ userId: 'someone' }));
  expect(isSessionError(login.error, 'STORE_UNAVAILABLE')).toBe(true);
  expect((await store.get(id, clock.now()))?.id).toBe(id);
}

describe('SqliteStore outages (ST-04, I1)', () => {
  const clock = createTestClock();

  it('ST-04: a database opened read-only serves reads and refuses every write with STORE_UNAVAILABLE', async () => {
    const { path, issued } = await seededFile(clock);
    const store = new SqliteStore({ path, readonly: true });
    try {
      await checkReadOnlyBehaviour(store, clock, issued.token);
      expect(await settle(() => store.sweep())).toMatchObject({
        error: expect.objectContaining({ code: 'STORE_UNAVAILABLE', reason: 'readonly' }),
      });
    } finally {
      await store.close();
    }
  });

  it.skipIf(!readOnlyWorks)(
    'ST-04: a database file made read-only (chmod, and chattr as root) behaves the same after a restart',
    async () => {
      const { path, issued } = await seededFile(clock);
      expect(existsSync(`${path}-wal`)).toBe(false); // a clean close checkpointed everything
      const undo = makeReadOnly(path);
      const store = new SqliteStore({ path });
      try {
        await checkReadOnlyBehaviour(store, clock, issued.token);
      } finally {
        await store.close();
        undo();
      }
    },
  );

  it('ST-04: a write lock held by another connection gives STORE_UNAVAILABLE after the busy timeout; reads go on', async () => {
    const { path, issued } = await seededFile(clock);
    const store = new SqliteStore({ path, busyTimeoutMs: 200 });
    const sessions = createSessionManager({ store, clock });
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      other.prepare('DELETE FROM session_store_sessions WHERE id = ?').run('not-there');
      const record = await store.get(issued.session.id, clock.now());
      const ms = await expectUnavailable(
        () => store.create({ ...(record as NonNullable<typeof record>), id: randomString(16) }, clock.now()),
        'busy',
      );
      expect(ms).toBeGreaterThanOrEqual(180);
      // WAL: readers are not blocked by the writer.
      expect((await sessions.validateToken(issued.token)).status).toBe('valid');
      const login = await settle(() => sessions.create({ userId: 'someone' }));
      expect(isSessionError(login.error, 'STORE_UNAVAILABLE')).toBe(true);
      other.exec('ROLLBACK');
      expect((await sessions.create({ userId: 'someone' })).token).toBeTruthy();
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await store.close();
    }
  });

  it('the default busy timeout is 1000 ms (I2)', async () => {
    const { path } = await seededFile(clock);
    const store = new SqliteStore({ path });
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const ms = await expectUnavailable(() => store.deleteByUser('anyone'), 'busy');
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(2500);
    } finally {
      other.exec('ROLLBACK');
      other.close();
      await store.close();
    }
  });

  it('a database the application closed under the store gives STORE_UNAVAILABLE (closed); the manager fails closed', async () => {
    const { path, issued } = await seededFile(clock);
    const database = new Database(path);
    const store = new SqliteStore({ database });
    const sessions = createSessionManager({ store, clock });
    expect((await sessions.validateToken(issued.token)).status).toBe('valid');
    database.close();
    await expectUnavailable(() => store.get(issued.session.id, clock.now()), 'closed');
    const result = await sessions.validateCookie(`__Host-sid=${issued.token}`);
    expect(result.status).toBe('unavailable');
    expect(result.session).toBeNull();
    expect(result.cookies).toEqual([]); // I1: no cookie deletion during an outage
  });

  it('a path that cannot be opened fails construction with STORE_UNAVAILABLE, not a driver error', () => {
    const blocker = join(temp.dir, 'not-a-directory');
    writeFileSync(blocker, 'x');
    expect(() => new SqliteStore({ path: join(blocker, 'sessions.db') })).toThrow(
      expect.objectContaining({ code: 'STORE_UNAVAILABLE', reason: 'io' }),
    );
    expect(() => new SqliteStore({ path: join(temp.dir, 'missing.db'), readonly: true })).toThrow(
      expect.objectContaining({ code: 'STORE_UNAVAILABLE' }),
    );
  });
});
