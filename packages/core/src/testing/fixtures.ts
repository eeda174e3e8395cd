import { hashSecret } from '../hash.js';
import { randomString } from '../random.js';
import type { RefreshFamilyRecord, SessionData, SessionRecord } from '../types.js';

const MINUTE = 60_000;

/**
 * A well-formed session record as a store receives it, written at `now`: fresh random id, the hash
 * of a random secret, a random user, aal2 deadlines (idle 30 min, absolute 12 h). For store tests
 * that write records directly rather than through the manager.
 *
 * @example
 * ```ts
 * await store.create(sessionRecordFixture(now, { userId: 'u1' }), now)
 * ```
 */
export function sessionRecordFixture<D extends SessionData = SessionData>(
  now: number,
  overrides: Partial<SessionRecord<D>> = {},
): SessionRecord<D> {
  return {
    id: randomString(16),
    secretHash: hashSecret(randomString(32)),
    userId: `user-${randomString(9)}`,
    createdAt: now,
    lastSeenAt: now,
    idleExpiresAt: now + 30 * MINUTE,
    absoluteExpiresAt: now + 12 * 60 * MINUTE,
    authenticatedAt: now,
    persistent: false,
    data: {} as D,
    metadata: {},
    version: 1,
    ...overrides,
  };
}

/** A well-formed refresh family written at `now`, generation 1, same deadlines as {@link sessionRecordFixture}. */
export function refreshFamilyFixture(now: number, overrides: Partial<RefreshFamilyRecord> = {}): RefreshFamilyRecord {
  return {
    id: randomString(16),
    sessionId: randomString(16),
    userId: `user-${randomString(9)}`,
    generation: 1,
    currentHash: hashSecret(randomString(32)),
    previousHash: null,
    rotatedAt: null,
    createdAt: now,
    lastUsedAt: now,
    idleExpiresAt: now + 30 * MINUTE,
    absoluteExpiresAt: now + 12 * 60 * MINUTE,
    revokedAt: null,
    ...overrides,
  };
}
