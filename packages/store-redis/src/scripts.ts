import { createHash } from 'node:crypto';

/** A Lua script sent by SHA1 (EVALSHA) and re-sent in full only when the server does not know it. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

function lua(...parts: string[]): LuaScript {
  const source = parts.join('\n');
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

// Times are the manager's clock in ms (ARGV); relative TTLs are computed from them (CL-04). Every
// key a script touches is declared in KEYS, and the keys of one script share a hash tag, so each
// script runs on one Redis Cluster slot (only `rotateInPlace` and the `...RaisingIndex` writes,
// used on a single server, span more).
//
// A session key is a hash. The fields the scripts need have fields of their own: `owner` (the
// user's tag, see `userTag` in index.ts), `version`, `createdAt`, `expiresAt` (the earliest
// deadline), `indexedUntil` (a score the user index is known to hold for this session, kept above
// `expiresAt`), `record` (the session as JSON) and, after a touch, `activity` (the version,
// lastSeenAt and idleExpiresAt that readers lay over the JSON). No script ever decodes `record`: application
// data (labels, data, user ids) can hold anything JSON can, lone surrogates and deep nesting
// included, and a revocation must never depend on it.

/**
 * Writes every field of a session hash and its TTL. A caller writing over a hash that holds an
 * `activity` (a touch's) deletes it first: the record JSON is whole again. Creates and rotations
 * write new keys, so they spend no command on it.
 */
const WRITE_SESSION = `
local function writeSession(key, ttl, owner, version, createdAt, expiresAt, indexedUntil, record)
  redis.call('HSET', key, 'owner', owner, 'version', version, 'createdAt', createdAt,
    'expiresAt', expiresAt, 'indexedUntil', indexedUntil, 'record', record)
  redis.call('PEXPIRE', key, ttl)
end`;

/**
 * Adds (or raises) one member of a user index, a sorted set scored by each session's
 * `indexedUntil`. Members whose score is more than the retention (`keep`) in the past are pruned:
 * their keys have expired by then. The key's own TTL follows the highest score plus the retention,
 * so the index never outlives its sessions and never needs keyspace notifications. ZADD GT only
 * ever raises a score (Redis 6.2+).
 */
const INDEX_ADD = `
local function indexAdd(key, now, keep, id, score)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now - keep))
  if score > now - keep then
    redis.call('ZADD', key, 'GT', string.format('%d', score), id)
  end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIRE', key, string.format('%d', math.ceil(tonumber(last[2]) + keep - now)))
  end
end`;

/**
 * The index check of a write whose caller raised the index itself, before the write, when it had
 * to: ARGV[n] is that raised score, if any. Answers -1 when the index still holds too little.
 */
function raisedBy(n: number): string {
  return `local raised = tonumber(ARGV[${n}])
if raised and raised > indexed then indexed = raised end
if tonumber(ARGV[4]) > indexed then return -1 end`;
}

/**
 * The index check of a write that raises the index itself when it holds too little: to ARGV[n],
 * with the retention ARGV[n + 1], for the session id ARGV[n + 2], in the index KEYS[2].
 */
function raising(n: number): string {
  return `if tonumber(ARGV[4]) > indexed then
  indexed = tonumber(ARGV[${n}])
  indexAdd(KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[${n + 1}]), ARGV[${n + 2}], indexed)
end`;
}

/**
 * The compare-and-set a rotation applies to the old record: live at `now`, at the expected
 * version, owned by the successor's user. A rotation mark (a hash next to the old key, on its slot)
 * records the outcome per successor: `done` once the old record is gone for it, `fenced` once the
 * caller has given up on it (see `rotationOutcome`), so that a late or resent copy of the same
 * rotation never acts after its caller was told it failed. Returns 0 (refused) or nil (go ahead).
 */
const ROTATION_CHECK = `
local function rotationCheck(oldKey, markKey, successorId, expectedVersion, now, owner)
  if redis.call('HEXISTS', markKey, successorId) == 1 then return 0 end
  local f = redis.call('HMGET', oldKey, 'version', 'expiresAt', 'owner')
  if not f[1] or tonumber(f[1]) ~= tonumber(expectedVersion) then return 0 end
  local expiresAt = tonumber(f[2])
  if not expiresAt or expiresAt <= tonumber(now) then return 0 end
  if f[3] ~= owner then return 0 end
  return nil
end
local function markDone(markKey, successorId, ttl)
  redis.call('HSET', markKey, successorId, 'done')
  redis.call('PEXPIRE', markKey, ttl)
end`;

/**
 * Inserts a session hash unless the key exists. ARGV: ttl ms, owner, version, createdAt,
 * expiresAt, indexedUntil, record JSON. Returns 1, or 0 when the id is taken.
 */
export const createSession = lua(
  WRITE_SESSION,
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
writeSession(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return 1`,
);

/**
 * Compare-and-set of a session on `version`. Refuses (0) when the record is gone, the version
 * differs or the stored record has expired at `now`. Answers -1, writing nothing, when the new
 * record needs more than the index is known to hold: the caller raises it and calls again with
 * the raised score. A new record past its deadline and its retention (ttl <= 0) deletes the key
 * (1). Otherwise writes the record and answers the `indexedUntil` it kept.
 * ARGV: expected version, now, ttl ms, score the index must hold at least, then the new owner,
 * version, createdAt, expiresAt and record JSON, then the raised index score (only when raised).
 *
 * The usual write (same owner, createdAt, deadline and index score: a request that changes the
 * data) sets only `version` and `record`, and spends no PEXPIRE: the key's TTL was set for the
 * same deadline, and Redis keeps it as an absolute time.
 */
const UPDATE_SESSION = (raise: string) => `
local f = redis.call('HMGET', KEYS[1], 'version', 'expiresAt', 'owner', 'indexedUntil', 'activity', 'createdAt')
if not f[1] or tonumber(f[1]) ~= tonumber(ARGV[1]) then return 0 end
local expiresAt = tonumber(f[2])
if not expiresAt or expiresAt <= tonumber(ARGV[2]) then return 0 end
if tonumber(ARGV[3]) <= 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
local stored = tonumber(f[4])
local indexed = stored or 0
local sameOwner = f[3] == ARGV[5]
-- A record moving to another user starts over in that user's index.
if not sameOwner then indexed = 0 end
${raise}
-- Only a touch leaves an activity: a write after a write spends no HDEL on a missing field.
if f[5] then redis.call('HDEL', KEYS[1], 'activity') end
-- Same owner, index score, deadline and createdAt: only the version and the record move.
if sameOwner and indexed == stored and f[2] == ARGV[8] and f[6] == ARGV[7] then
  redis.call('HSET', KEYS[1], 'version', ARGV[6], 'record', ARGV[9])
else
  writeSession(KEYS[1], ARGV[3], ARGV[5], ARGV[6], ARGV[7], ARGV[8], string.format('%d', indexed), ARGV[9])
end
return indexed`;

export const updateSession = lua(WRITE_SESSION, UPDATE_SESSION(raisedBy(10)));

/**
 * {@link updateSession} for a single server, when the new record needs more than the index is
 * known to hold: the script raises the user's index entry (KEYS[2], on another slot) itself, in the
 * same step as the compare-and-set, so it never answers -1. ARGV: those of updateSession, then the
 * score to raise the index to, the index's retention in ms and the session id.
 */
export const updateSessionRaisingIndex = lua(WRITE_SESSION, INDEX_ADD, UPDATE_SESSION(raising(10)));

/**
 * A touch: the compare-and-set of {@link updateSession} for a record whose data did not change,
 * writing only the version, the deadline, `activity` (version, lastSeenAt and idleExpiresAt, which
 * readers lay over the record JSON) and, when it was raised, the index score. The record JSON is
 * not sent at all. Refuses (0) a record that would change owner. ARGV: expected version, now, ttl
 * ms, score the index must hold at least, owner, new version, expiresAt, activity, then the raised
 * index score (only when raised).
 */
const TOUCH_SESSION = (raise: string) => `
local f = redis.call('HMGET', KEYS[1], 'version', 'expiresAt', 'owner', 'indexedUntil')
if not f[1] or tonumber(f[1]) ~= tonumber(ARGV[1]) then return 0 end
local expiresAt = tonumber(f[2])
if not expiresAt or expiresAt <= tonumber(ARGV[2]) then return 0 end
if f[3] ~= ARGV[5] then return 0 end
if tonumber(ARGV[3]) <= 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
local stored = tonumber(f[4])
local indexed = stored or 0
${raise}
-- The index score is written only when it was raised (about one touch in six with the defaults).
if indexed ~= stored then
  redis.call('HSET', KEYS[1], 'version', ARGV[6], 'expiresAt', ARGV[7], 'activity', ARGV[8],
    'indexedUntil', string.format('%d', indexed))
else
  redis.call('HSET', KEYS[1], 'version', ARGV[6], 'expiresAt', ARGV[7], 'activity', ARGV[8])
end
-- The TTL as sent: a Lua number would be formatted back into a string for the call (~0.4 us).
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return indexed`;

export const touchSession = lua(TOUCH_SESSION(raisedBy(9)));

/**
 * {@link touchSession} for a single server, raising the user's index entry (KEYS[2]) in the same
 * step, as {@link updateSessionRaisingIndex} does. ARGV: those of touchSession, then the score to
 * raise the index to, the index's retention in ms and the session id.
 */
export const touchSessionRaisingIndex = lua(INDEX_ADD, TOUCH_SESSION(raising(9)));

/**
 * Deletes one session key, whatever it holds, and answers {1, owner} ('' when the owner cannot
 * be read), or 0 when there was no key.
 */
export const deleteSession = lua(`
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return 0 end
local owner = false
if kind == 'hash' then owner = redis.call('HGET', KEYS[1], 'owner') end
redis.call('DEL', KEYS[1])
return {1, owner or ''}`);

/**
 * Deletes a session key for a revocation unless it provably belongs to someone else: a stale or
 * forged index entry never deletes another user's session, and a key whose owner cannot be read
 * (damaged, or not a hash) is deleted rather than skipped. ARGV: owner.
 * Returns 1 (deleted), 0 (no key) or -1 (another owner's session, left alone).
 */
export const deleteIfOwned = lua(`
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return 0 end
if kind == 'hash' then
  local owner = redis.call('HGET', KEYS[1], 'owner')
  if owner and owner ~= ARGV[1] then return -1 end
end
redis.call('DEL', KEYS[1])
return 1`);

/** {@link INDEX_ADD} on KEYS[1]. ARGV: now, retention ms, session id, score. */
export const indexAdd = lua(
  INDEX_ADD,
  `
indexAdd(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]))
return 1`,
);

/**
 * Removes members whose score is more than the retention in the past, and the given ids (sessions
 * whose key is gone or belongs to another user now). ARGV: now, retention ms, ids...
 * Returns the number of members left.
 */
export const indexPrune = lua(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', tonumber(ARGV[1]) - tonumber(ARGV[2])))
for i = 3, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
end
return redis.call('ZCARD', KEYS[1])`);

/**
 * One round of a revocation: removes the ids the previous round dealt with (their keys are gone,
 * or are another user's), then answers {members left, the first `count` members}.
 * ARGV: count, ids...
 */
export const indexNext = lua(`
for i = 2, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
end
return {redis.call('ZCARD', KEYS[1]), redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)}`);

/**
 * The last step of a rotation across slots (Redis Cluster): the successor exists and is indexed;
 * this deletes the old record if it passes the rotation check, and marks the rotation done.
 * KEYS: old session key, rotation mark. ARGV: expected version, now, owner, successor id, mark ttl.
 * Returns 1 (the old record is gone for this successor) or 0 (refused: nothing changed).
 */
export const rotateOld = lua(
  ROTATION_CHECK,
  `
local checked = rotationCheck(KEYS[1], KEYS[2], ARGV[4], ARGV[1], ARGV[2], ARGV[3])
if checked then return checked end
redis.call('DEL', KEYS[1])
markDone(KEYS[2], ARGV[4], ARGV[5])
return 1`,
);

/**
 * A whole rotation in one atomic step, on a single server: checks the old record, writes the
 * successor and indexes it, deletes the old record and unindexes it.
 * KEYS: old session key, rotation mark, successor key, user index.
 * ARGV: expected version, now, owner, successor id, mark ttl, successor ttl, then the successor's
 * version, createdAt, expiresAt, indexedUntil and record JSON, then the old id and the retention.
 * Returns 1 (rotated), 0 (refused: nothing changed) or -2 (the successor's id is taken: nothing
 * changed).
 */
export const rotateInPlace = lua(
  WRITE_SESSION,
  INDEX_ADD,
  ROTATION_CHECK,
  `
if redis.call('EXISTS', KEYS[3]) == 1 then return -2 end
local checked = rotationCheck(KEYS[1], KEYS[2], ARGV[4], ARGV[1], ARGV[2], ARGV[3])
if checked then return checked end
local now = tonumber(ARGV[2])
local keep = tonumber(ARGV[13])
-- The index first: a refused command (a damaged index key) stops the script before any write
-- (Redis does not roll a script back). Nothing after it can be refused, so no half rotation.
if tonumber(ARGV[6]) > 0 then
  indexAdd(KEYS[4], now, keep, ARGV[4], tonumber(ARGV[10]))
  writeSession(KEYS[3], ARGV[6], ARGV[3], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11])
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[4], ARGV[12])
markDone(KEYS[2], ARGV[4], ARGV[5])
return 1`,
);

/**
 * After a rotation's last step failed without an answer (a timeout, a dropped connection): tells
 * whether it took effect, and if not, fences it so that it never will (a late or resent copy then
 * refuses). KEYS: old session key, rotation mark. ARGV: successor id, minimum mark ttl.
 * Returns 1 (done) or 0 (not done, and now never will be).
 */
export const rotationOutcome = lua(`
local mark = redis.call('HGET', KEYS[2], ARGV[1])
if mark == 'done' then return 1 end
redis.call('HSET', KEYS[2], ARGV[1], 'fenced')
local ttl = math.max(tonumber(ARGV[2]), redis.call('PTTL', KEYS[1]))
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 0`);

/**
 * Writes a user's epoch unless a later one is held (an equal one is replaced). Whichever epoch
 * stays is kept at least until the later of both expiries (plus the retention, by the key's TTL).
 * ARGV: validAfter, keep ('' for none), whether there is a keep ('1' or '0'), expiresAt, ttl ms.
 * Returns 1 (written) or 0 (a later epoch is held).
 */
export const setUserEpoch = lua(`
local f = redis.call('HMGET', KEYS[1], 'validAfter', 'expiresAt')
local held = tonumber(f[1])
local heldUntil = tonumber(f[2])
local expiresAt = tonumber(ARGV[4])
local ttl = math.max(tonumber(ARGV[5]), redis.call('PTTL', KEYS[1]))
local written = 1
if held and held > tonumber(ARGV[1]) then
  written = 0
else
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'validAfter', ARGV[1])
  if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'keep', ARGV[2]) end
end
if heldUntil and heldUntil > expiresAt then expiresAt = heldUntil end
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return written
end
redis.call('HSET', KEYS[1], 'expiresAt', string.format('%d', expiresAt))
redis.call('PEXPIRE', KEYS[1], ttl)
return written`);

/**
 * Inserts a refresh-family hash unless the key exists. ARGV: ttl ms, generation, expiresAt, JSON.
 * Returns 1, or 0 when the id is taken.
 */
export const createFamily = lua(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'generation', ARGV[2], 'expiresAt', ARGV[3], 'record', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`);

/**
 * Compare-and-set of a refresh family on `generation`, with the same refusals as
 * {@link updateSession}. ARGV: expected generation, now, ttl ms, generation, expiresAt, JSON.
 * Returns 1 or 0.
 */
export const updateFamily = lua(`
local f = redis.call('HMGET', KEYS[1], 'generation', 'expiresAt')
if not f[1] or tonumber(f[1]) ~= tonumber(ARGV[1]) then return 0 end
local expiresAt = tonumber(f[2])
if not expiresAt or expiresAt <= tonumber(ARGV[2]) then return 0 end
if tonumber(ARGV[3]) <= 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('HSET', KEYS[1], 'generation', ARGV[4], 'expiresAt', ARGV[5], 'record', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`);

/**
 * One login attempt on a throttle counter (a hash: count, locked, expires), with the same
 * arithmetic as core's nextAttemptState: a key in its wait is refused unchanged; otherwise the
 * attempt counts and, from the freeAttempts-th on, starts a doubling wait. The key expires with its
 * window (PEXPIREAT), so Redis holds no counter longer than it matters.
 * ARGV: now, free attempts, base delay, max delay, window. Returns {allowed (1 or 0), count, locked}.
 */
export const countAttempt = lua(`
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'count', 'locked', 'expires')
local count = tonumber(state[1]) or 0
local locked = tonumber(state[2]) or 0
local expires = tonumber(state[3]) or 0
if expires <= now then count = 0; locked = 0 end
if locked > now then return {0, count, locked} end
count = count + 1
locked = 0
if count >= free then
  local step = math.min(count - free, 40)
  locked = now + math.min(max, base * (2 ^ step))
end
expires = math.max(locked, now) + window
redis.call('HSET', KEYS[1], 'count', count, 'locked', locked, 'expires', expires)
redis.call('PEXPIREAT', KEYS[1], expires)
return {1, count, locked}`);
