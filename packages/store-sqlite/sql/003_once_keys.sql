-- 003_once_keys: the markOnce keys, the replay cache of DPoP proof ids and DBSC challenges shared
-- by every process on this file. A template like 001_init: placeholders in double braces become
-- quoted identifiers, and every statement is idempotent.
--
-- One row per key, kept until expires_at (ms, the session manager's clock). markOnce inserts the
-- key, or takes over a row whose expires_at has passed, in one upsert; sweeps delete expired rows.
-- The table holds about the keys marked within the last TTL plus one sweep interval.

CREATE TABLE IF NOT EXISTS {{once_keys}} (
  id         TEXT    NOT NULL PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT;

-- Sweeps of expired keys.
CREATE INDEX IF NOT EXISTS {{once_keys_expiry_index}} ON {{once_keys}} (expires_at);
