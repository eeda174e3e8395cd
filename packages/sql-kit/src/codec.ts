import {
  type RefreshFamilyRecord,
  recordExpiresAt,
  type SessionData,
  type SessionRecord,
  type UserEpoch,
} from '@org/session-core';

/** A row as a driver returns it. */
export type Row = Record<string, unknown>;

export const SESSION_COLUMNS = [
  'id',
  'secret_hash',
  'user_id',
  'created_at',
  'last_seen_at',
  'idle_expires_at',
  'absolute_expires_at',
  'authenticated_at',
  'persistent',
  'data',
  'metadata',
  'version',
  'expires_at',
] as const;

export const FAMILY_COLUMNS = [
  'id',
  'session_id',
  'user_id',
  'generation',
  'current_hash',
  'previous_hash',
  'rotated_at',
  'created_at',
  'last_used_at',
  'idle_expires_at',
  'absolute_expires_at',
  'revoked_at',
  'expires_at',
] as const;

export const EPOCH_COLUMNS = ['user_id', 'valid_after', 'keep_id', 'expires_at'] as const;

/** The `markOnce` keys: the key itself and when it may be marked again. */
export const ONCE_COLUMNS = ['id', 'expires_at'] as const;

/** Each table with the columns the store reads and writes, for checking a table found under our name. */
export function columnsOf<T>(tables: {
  sessions: T;
  refreshFamilies: T;
  userEpochs: T;
  onceKeys: T;
}): [T, readonly string[]][] {
  return [
    [tables.sessions, SESSION_COLUMNS],
    [tables.refreshFamilies, FAMILY_COLUMNS],
    [tables.userEpochs, EPOCH_COLUMNS],
    [tables.onceKeys, ONCE_COLUMNS],
  ];
}

/** What one SQL dialect does differently, as far as the shared code is concerned. */
export interface Dialect {
  /** `boolean` columns that the driver returns as booleans (PostgreSQL), or 0/1 integers (SQLite). */
  booleans: 'boolean' | 'integer';
  /** `jsonb` columns that the driver parses (PostgreSQL), or JSON text parsed here (SQLite). */
  json: 'jsonb' | 'text';
  /** Batched deletes name their rows by rowid (SQLite), not by primary key. */
  rowid: boolean;
  /** A sweep batch skips rows that other transactions hold (PostgreSQL's `FOR UPDATE SKIP LOCKED`). */
  skipLocked: boolean;
}

/** Records to statement parameters (in column order) and rows back to records, for one dialect. */
export interface RowCodec {
  sessionValues<D extends SessionData>(record: SessionRecord<D>): unknown[];
  familyValues(family: RefreshFamilyRecord): unknown[];
  toSession<D extends SessionData>(row: Row): SessionRecord<D>;
  toFamily(row: Row): RefreshFamilyRecord;
  toEpoch(row: Row): UserEpoch;
  /** A boolean column or expression, as the driver returns it. */
  flag(value: unknown): boolean;
}

// PostgreSQL returns bigint columns as strings (it keeps 64 bits); our times fit in a double.
// SQLite returns numbers already, which Number() leaves as they are.
const int = (value: unknown): number => Number(value);
const intOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
const text = (value: unknown): string => value as string;
const textOrNull = (value: unknown): string | null => (value ?? null) as string | null;

export function rowCodec(dialect: Dialect): RowCodec {
  const toFlag = dialect.booleans === 'boolean' ? (value: boolean) => value : (value: boolean) => (value ? 1 : 0);
  const flag = dialect.booleans === 'boolean' ? (value: unknown) => value === true : (value: unknown) => value === 1;
  const json = dialect.json === 'jsonb' ? (value: unknown) => value : (value: unknown) => JSON.parse(value as string);
  return {
    sessionValues: (r) => [
      r.id,
      r.secretHash,
      r.userId,
      r.createdAt,
      r.lastSeenAt,
      r.idleExpiresAt,
      r.absoluteExpiresAt,
      r.authenticatedAt,
      toFlag(r.persistent),
      JSON.stringify(r.data),
      JSON.stringify(r.metadata),
      r.version,
      recordExpiresAt(r),
    ],
    familyValues: (f) => [
      f.id,
      f.sessionId,
      f.userId,
      f.generation,
      f.currentHash,
      f.previousHash,
      f.rotatedAt,
      f.createdAt,
      f.lastUsedAt,
      f.idleExpiresAt,
      f.absoluteExpiresAt,
      f.revokedAt,
      recordExpiresAt(f),
    ],
    toSession: <D extends SessionData>(row: Row): SessionRecord<D> => ({
      id: text(row.id),
      secretHash: text(row.secret_hash),
      userId: text(row.user_id),
      createdAt: int(row.created_at),
      lastSeenAt: int(row.last_seen_at),
      idleExpiresAt: intOrNull(row.idle_expires_at),
      absoluteExpiresAt: int(row.absolute_expires_at),
      authenticatedAt: int(row.authenticated_at),
      persistent: flag(row.persistent),
      data: json(row.data) as D,
      metadata: json(row.metadata) as SessionRecord<D>['metadata'],
      version: int(row.version),
    }),
    toFamily: (row) => ({
      id: text(row.id),
      sessionId: text(row.session_id),
      userId: text(row.user_id),
      generation: int(row.generation),
      currentHash: text(row.current_hash),
      previousHash: textOrNull(row.previous_hash),
      rotatedAt: intOrNull(row.rotated_at),
      createdAt: int(row.created_at),
      lastUsedAt: int(row.last_used_at),
      idleExpiresAt: intOrNull(row.idle_expires_at),
      absoluteExpiresAt: int(row.absolute_expires_at),
      revokedAt: intOrNull(row.revoked_at),
    }),
    toEpoch: (row) => ({ validAfter: int(row.valid_after), keep: textOrNull(row.keep_id) }),
    flag,
  };
}
