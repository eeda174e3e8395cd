import { isSessionError, type SessionError } from '@org/session-core';
import { refreshFamilyFixture, sessionRecordFixture } from '@org/session-core/testing';
import { describe, expect, it } from 'vitest';
import {
  type Batch,
  checkIdentifier,
  type Dialect,
  deleteAllTables,
  FAMILY_COLUMNS,
  fromStart,
  renderTemplate,
  resolveTableNames,
  rowCodec,
  SESSION_COLUMNS,
  storeErrors,
  walk,
} from '../src/index.js';

const POSTGRES: Dialect = { booleans: 'boolean', json: 'jsonb', rowid: false, skipLocked: true };
const SQLITE: Dialect = { booleans: 'integer', json: 'text', rowid: true, skipLocked: false };

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return null;
}

describe('identifiers and table names', () => {
  it('accepts lower-case names of 1-40 characters and refuses anything else with CONFIG_INVALID', () => {
    for (const good of ['a', '_x', 'sessions_2', 'a'.repeat(40)]) expect(checkIdentifier('t', good)).toBe(good);
    for (const bad of ['', 'A', '1a', 'a-b', 'a"b', 'a b', 'a'.repeat(41), 'ä']) {
      expect(
        isSessionError(
          thrown(() => checkIdentifier('t', bad)),
          'CONFIG_INVALID',
        ),
      ).toBe(true);
    }
    const reserved = thrown(() => checkIdentifier('tables.sessions', 'sqlite_x', 'sqlite_')) as SessionError;
    expect(reserved.message).toBe(
      'tables.sessions must be 1-40 characters of a-z, 0-9 and _, not starting with a digit or sqlite_',
    );
  });

  it('fills in the defaults and needs five distinct names', () => {
    expect(resolveTableNames({ sessions: 'web' })).toEqual({
      sessions: 'web',
      refreshFamilies: 'session_store_refresh_families',
      userEpochs: 'session_store_user_epochs',
      migrations: 'session_store_migrations',
      onceKeys: 'session_store_once_keys',
    });
    const clash = thrown(() => resolveTableNames({ userEpochs: 'session_store_sessions' }));
    expect(isSessionError(clash, 'CONFIG_INVALID')).toBe(true);
  });

  it('renders a template with quoted names and refuses an unknown placeholder', () => {
    expect(renderTemplate('CREATE TABLE {{sessions}} ()', { sessions: 'web' })).toBe('CREATE TABLE "web" ()');
    expect(
      isSessionError(
        thrown(() => renderTemplate('{{nope}}', {})),
        'INTERNAL_ERROR',
      ),
    ).toBe(true);
  });
});

describe('row codec', () => {
  const now = 1_800_000_000_000;
  const session = sessionRecordFixture(now, {
    persistent: true,
    idleExpiresAt: null,
    data: { role: 'admin', nested: [1, { deep: 'ż' }] },
    metadata: { userAgent: 'agent', ip: '::1', label: null },
  });
  const family = refreshFamilyFixture(now, { previousHash: 'ab'.repeat(32), rotatedAt: now + 1 });

  /** A row as the driver would return it: values in column order, then the dialect's own typing. */
  const asRow = (columns: readonly string[], values: unknown[], driver: (column: string, value: unknown) => unknown) =>
    Object.fromEntries(columns.map((column, i) => [column, driver(column, values[i])]));

  it('PostgreSQL: bigint columns as strings, native booleans, jsonb already parsed', () => {
    const codec = rowCodec(POSTGRES);
    const values = codec.sessionValues(session);
    expect(values[SESSION_COLUMNS.indexOf('persistent')]).toBe(true);
    const row = asRow(SESSION_COLUMNS, values, (column, value) => {
      if (column === 'data' || column === 'metadata') return JSON.parse(value as string);
      return typeof value === 'number' && column !== 'version' ? String(value) : value;
    });
    expect(codec.toSession(row)).toEqual(session);
    expect(codec.flag(true)).toBe(true);
    expect(codec.flag(1)).toBe(false);
  });

  it('SQLite: integers as numbers, booleans as 0/1, JSON as text', () => {
    const codec = rowCodec(SQLITE);
    const values = codec.sessionValues(session);
    expect(values[SESSION_COLUMNS.indexOf('persistent')]).toBe(1);
    expect(codec.toSession(asRow(SESSION_COLUMNS, values, (_, value) => value))).toEqual(session);
    expect(codec.flag(1)).toBe(true);
    expect(codec.flag(true)).toBe(false);
  });

  it('families and epochs come back as they went in, nulls included', () => {
    for (const dialect of [POSTGRES, SQLITE]) {
      const codec = rowCodec(dialect);
      expect(codec.toFamily(asRow(FAMILY_COLUMNS, codec.familyValues(family), (_, value) => value))).toEqual(family);
      expect(codec.toEpoch({ valid_after: String(now), keep_id: null })).toEqual({ validAfter: now, keep: null });
    }
  });
});

describe('batch walks', () => {
  it('runs until a batch says it is over, pausing between batches, and counts what was deleted', async () => {
    const seen: (string | null)[] = [];
    let pauses = 0;
    const keys = ['c', 'f', null];
    const outcome = await walk(
      (after): Batch => {
        seen.push(after);
        const next = keys[seen.length - 1] ?? null;
        return { deleted: 3, over: next === null, after: next };
      },
      { pause: () => void pauses++ },
    );
    expect(outcome).toEqual({ deleted: 9, batches: 3, done: true });
    expect(seen).toEqual([null, 'c', 'f']);
    expect(pauses).toBe(2);
  });

  it('stops after maxBatches with done false', async () => {
    expect(await walk(() => fromStart(10, 10), { maxBatches: 4 })).toEqual({ deleted: 40, batches: 4, done: false });
  });

  it('a walk from the start is over at the first short batch', async () => {
    const left = [5, 5, 2];
    expect(await walk(() => fromStart(left.shift() ?? 0, 5))).toEqual({ deleted: 12, batches: 3, done: true });
  });

  it('deleteAll walks sessions, families and epochs in turn and answers the sessions deleted', async () => {
    const order: string[] = [];
    const deleted = await deleteAllTables((table) => {
      order.push(table);
      return fromStart(table === 'sessions' ? 7 : 2, 10);
    });
    expect(order).toEqual(['sessions', 'refreshFamilies', 'userEpochs']);
    expect(deleted).toBe(7);
  });
});

describe('driver errors', () => {
  const toStoreError = storeErrors<'busy' | 'query'>({
    isConflict: (code) => code === 'DUP',
    classify: (code, message) => (code === 'BUSY' || /locked/.test(message) ? 'busy' : 'query'),
    messages: { busy: 'The store is busy', query: 'The store failed' },
  });

  it('a duplicate key is STORE_CONFLICT, anything else STORE_UNAVAILABLE with a reason and the cause', () => {
    const driver = Object.assign(new Error('duplicate key value 1234secret'), { code: 'DUP' });
    const conflict = toStoreError(driver);
    expect(isSessionError(conflict, 'STORE_CONFLICT')).toBe(true);
    expect(conflict.cause).toBe(driver);
    expect(conflict.message).not.toContain('1234secret');
    const busy = toStoreError(new Error('database is locked'));
    expect([busy.code, busy.reason, busy.message]).toEqual(['STORE_UNAVAILABLE', 'busy', 'The store is busy']);
    expect(toStoreError('not an error').reason).toBe('query');
    expect(toStoreError(conflict)).toBe(conflict);
  });
});
