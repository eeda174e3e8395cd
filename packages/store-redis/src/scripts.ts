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

/**
 * Compare-and-set of a JSON record on its counter field (`version` or `generation`).
 * Refuses when the record is gone, the counter differs or the stored record has already expired
 * at `now`. A new record that is already expired (ttl <= 0) deletes the key.
 * ARGV: counter field, expected counter, now, new JSON value, ttl ms. Returns 1 or 0.
 */
export const compareAndSet = lua(`
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local ok, current = pcall(cjson.decode, stored)
if not ok or type(current) ~= 'table' then return 0 end
if tonumber(current[ARGV[1]]) ~= tonumber(ARGV[2]) then return 0 end
local expiresAt = tonumber(current.absoluteExpiresAt)
if not expiresAt then return 0 end
local idle = current.idleExpiresAt
if type(idle) == 'number' and idle < expiresAt then expiresAt = idle end
if expiresAt <= tonumber(ARGV[3]) then return 0 end
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ttl)
else
  redis.call('DEL', KEYS[1])
end
return 1
`);

/**
 * Adds (or raises) one member of a per-user index, a sorted set scored by each session's expiry.
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
 * Deletes a session record only if it belongs to the given user, so a stale index entry can
 * never delete someone else's session. ARGV: user id. Returns 1 (deleted), 0 (gone), -1 (other owner).
 */
export const deleteIfOwned = lua(`
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local ok, record = pcall(cjson.decode, stored)
if not ok or type(record) ~= 'table' or record.userId ~= ARGV[1] then return -1 end
redis.call('DEL', KEYS[1])
return 1
`);
