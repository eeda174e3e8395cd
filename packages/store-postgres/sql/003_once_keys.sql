-- 003_once_keys: the markOnce keys, the replay cache of DPoP proof ids and DBSC challenges shared
-- by every instance on this database. A template like 001_init: `store.migrate()` (or
-- `renderMigrations()`) fills in the quoted names, and every statement is idempotent.
--
-- One row per key, kept until expires_at (ms, the session manager's clock). markOnce inserts the
-- key, or takes over a row whose expires_at has passed, in one INSERT ... ON CONFLICT; sweeps
-- delete expired rows. The table holds about the keys marked within the last TTL plus one sweep
-- interval.

CREATE TABLE IF NOT EXISTS {{schema}}.{{once_keys}} (
  id         text   PRIMARY KEY,
  expires_at bigint NOT NULL
);

-- Sweeps of expired keys.
CREATE INDEX IF NOT EXISTS {{once_keys_expiry_index}} ON {{schema}}.{{once_keys}} (expires_at);
