import { join } from 'node:path';
import { createSessionManager } from '@org/session-core';
import {
  createTestClock,
  hashSecret,
  randomString,
  refreshFamilyFixture,
  sessionRecordFixture,
} from '@org/session-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/index.js';
import { startInstance, tempDir } from './helpers.js';

const temp = tempDir('race');
afterAll(() => temp.remove());

const INSTANCES = 3;
// Each instance is a Node process compiling TypeScript on start: allow for a loaded machine.
const TIMEOUT = 60_000;

/** Starts the instances, waits until every one has opened the file, then releases them at once. */
async function race(args: (i: number) => string[]): Promise<Record<string, unknown>[]> {
  const instances = Array.from({ length: INSTANCES }, (_, i) => startInstance(args(i)));
  for (const instance of instances) expect(await instance.next()).toEqual({ ready: true });
  for (const instance of instances) instance.go();
  const results = await Promise.all(instances.map((instance) => instance.next()));
  await Promise.all(instances.map((instance) => instance.exited));
  return results;
}

describe('SqliteStore across processes sharing one file', () => {
  const clock = createTestClock();

  it(
    'parallel rotations of one session from separate processes have exactly one winner',
    async () => {
      const path = join(temp.dir, 'rotate.db');
      const store = new SqliteStore({ path, migrate: true });
      const sessions = createSessionManager({ store, clock });
      try {
        const issued = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
        const results = await race(() => ['rotate', path, String(clock.now()), issued.session.id]);
        const winners = results.filter((r) => r.won === true);
        expect(winners).toHaveLength(1);
        for (const r of results) if (r.won === false) expect(r.code).toBe('SESSION_NOT_FOUND');
        expect((await sessions.validateToken(issued.token)).status).toBe('invalid');
        const rotated = await sessions.validateToken(winners[0]?.token as string);
        expect(rotated.session?.data).toEqual({ role: 'member' });
        expect(await sessions.list(issued.session.userId)).toHaveLength(1);
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  it(
    'item 3: parallel store.rotate calls on one session from separate processes have exactly one winner',
    async () => {
      const path = join(temp.dir, 'store-rotate.db');
      const store = new SqliteStore({ path, migrate: true });
      try {
        const now = clock.now();
        const old = sessionRecordFixture(now, { data: { role: 'member' } });
        await store.create(old, now);
        const results = await race(() => ['store-rotate', path, String(now), old.id]);
        const winners = results.filter((r) => r.won === true);
        expect(winners).toHaveLength(1);
        for (const r of results) expect(r.code).toBeUndefined(); // the losers got false, not an error
        expect(await store.get(old.id, now)).toBeNull();
        const listed = await store.listByUser(old.userId, now);
        expect(listed.map((r) => r.id)).toEqual([winners[0]?.id]);
        expect(listed[0]).toMatchObject({ userId: old.userId, createdAt: old.createdAt, data: { role: 'member' } });
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  it(
    'parallel refresh rotations of one family from separate processes have exactly one winner',
    async () => {
      const path = join(temp.dir, 'refresh.db');
      const store = new SqliteStore({ path, migrate: true });
      try {
        const now = clock.now();
        const family = refreshFamilyFixture(now, {
          userId: 'race',
          currentHash: hashSecret('r0'),
          idleExpiresAt: now + 60_000,
          absoluteExpiresAt: now + 600_000,
        });
        await store.createRefreshFamily(family, now);
        const results = await race((i) => ['refresh', path, String(now), JSON.stringify(family), `p${i}`]);
        const winners = results.filter((r) => r.won === true);
        expect(winners).toHaveLength(1);
        const stored = await store.getRefreshFamily(family.id, now);
        expect(stored?.generation).toBe(2);
        expect(stored?.previousHash).toBe(family.currentHash);
        expect(stored?.currentHash).toBe(hashSecret(`next-${winners[0]?.tag}`));
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );
  it(
    'markOnce from separate processes on one file: every key has exactly one winner',
    async () => {
      const path = join(temp.dir, 'mark-once.db');
      const store = new SqliteStore({ path, migrate: true });
      try {
        const keys = 200;
        const results = await race(() => ['mark-once', path, String(clock.now()), 'jti-', String(keys)]);
        const won = results.flatMap((r) => r.won as string[]);
        expect(won).toHaveLength(keys);
        expect(new Set(won).size).toBe(keys);
        // Every key is held, so any further mark loses.
        expect(await store.markOnce('jti-0', 60_000, clock.now())).toBe(false);
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );
});
