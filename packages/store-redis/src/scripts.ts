import { createHash } from 'node:crypto';

/** A Lua script sent by SHA1 (EVALSHA) and re-sent in full only when the server does not know it. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

function lua(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

// Every script below touches exactly one key (KEYS[1]), so each runs on one Redis Cluster slot.
// Times are the manager's clock in ms (ARGV); relative TTLs are computed from them (CL-04).
//
// A session key holds an envelope: {"indexedUntil":<ms>,"session":<record>}. `indexedUntil` is a
// score the user index is known to hold for this session (the index was raised to it before the
// envelope said so), and it stays a margin above the record's expiry. Pruning the index by score
// can therefore never drop a live session, and most touches need no index write at all.

/**
 * Compare-and-set of a session envelope on `version`. Refuses (0) when the record is gone, the
 * version differs or the stored record has already expired at `now`. Answers -1, writing
 * nothing, when the new record needs more than the index is known to hold: the caller raises it
 * and calls again with the raised score. A new record that is already expired (ttl <= 0) deletes
 * the key (1). Otherwise writes the record and answers the `indexedUntil` it kept.
 * ARGV: expected version, now, new record JSON, ttl ms, score the index must hold at least,
 * raised score or '', user id.
 */
export const sessionCompareAndSet = lua(`
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local ok, envelope = pcall(cjson.decode, stored)
if not ok or type(envelope) ~= 'table' or type(envelope.session) ~= 'table' then return 0 end
local current = envelope.session
if tonumber(current.version) ~= tonumber(ARGV[1]) then return 0 end
local expiresAt = tonumber(current.absoluteExpiresAt)
if not expiresAt then return 0 end
local idle = current.idleExpiresAt
if type(idle) == 'number' and idle < expiresAt then expiresAt = idle end
if expiresAt <= tonumber(ARGV[2]) then return 0 end
local ttl = tonumber(ARGV[4])
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
local indexed = tonumber(envelope.indexedUntil) or 0
-- A record moving to another user starts over in that user's index.
if current.userId ~= ARGV[7] then indexed = 0 end
local raised = tonumber(ARGV[6])
if raised and raised > indexed then indexed = raised end
if tonumber(ARGV[5]) > indexed then return -1 end
redis.call('SET', KEYS[1], string.format('{"indexedUntil":%d,"session":%s}', indexed, ARGV[3]), 'PX', ttl)
return indexed
`);

/**
 * Compare-and-set of a refresh-family record on `generation`, with the same refusals as above.
 * ARGV: expected generation, now, new JSON value, ttl ms. Returns 1 or 0.
 */
export const familyCompareAndSet = lua(`
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local ok, current = pcall(cjson.decode, stored)
if not ok or type(current) ~= 'table' then return 0 end
if tonumber(current.generation) ~= tonumber(ARGV[1]) then return 0 end
local expiresAt = tonumber(current.absoluteExpiresAt)
if not expiresAt then return 0 end
local idle = current.idleExpiresAt
if type(idle) == 'number' and idle < expiresAt then expiresAt = idle end
if expiresAt <= tonumber(ARGV[2]) then return 0 end
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
else
  redis.call('DEL', KEYS[1])
end
return 1
`);

/**
 * Adds (or raises) one member of a per-user index, a sorted set scored by each session's
 * `indexedUntil` (its expiry plus headroom).
 * Prunes members whose score has passed, and keeps the key's own TTL at the highest score, so the
 * index never outlives its sessions and never needs keyspace notifications.
 * ARGV: now, session id, expiry. ZADD GT only ever raises a score (Redis 6.2+).
 */
export const indexAdd = lua(`
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if tonumber(ARGV[3]) > now then
  redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[2])
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(last[2]) - now))
end
return 1
`);

/**
 * Removes members whose score has passed and the given ids (sessions found gone or re-owned).
 * ARGV: now, ids... Returns the number of members left.
 */
export const indexPrune = lua(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]))
for i = 2, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
end
return redis.call('ZCARD', KEYS[1])
`);

/**
 * Deletes a session envelope only if its record belongs to the given user, so a stale index entry can
 * never delete someone else's session. ARGV: user id. Returns 1 (deleted), 0 (gone), -1 (other owner).
 */
export const deleteIfOwned = lua(`
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local ok, envelope = pcall(cjson.decode, stored)
if not ok or type(envelope) ~= 'table' or type(envelope.session) ~= 'table' then return -1 end
if envelope.session.userId ~= ARGV[1] then return -1 end
redis.call('DEL', KEYS[1])
return 1
`);
