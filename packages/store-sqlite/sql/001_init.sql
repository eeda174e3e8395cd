-- 001_init: the tables of @org/session-store-sqlite.
--
-- This file is a template: `store.migrate()` (or `renderMigrations()`) replaces each placeholder in
-- double braces with a validated, double-quoted identifier. Every statement is idempotent.
--
-- Times are milliseconds since the Unix epoch, always taken from the session manager's clock and
-- never from SQLite's own: one clock decides expiry. `expires_at` is the earlier of the idle and
-- absolute deadlines; reads ignore rows with expires_at <= now and sweeps delete them.

CREATE TABLE IF NOT EXISTS {{sessions}} (
  id                  TEXT    NOT NULL PRIMARY KEY,
  secret_hash         TEXT    NOT NULL, -- hex SHA-256 of the token secret; the secret is never stored
  user_id             TEXT    NOT NULL,
  created_at          INTEGER NOT NULL,
  last_seen_at        INTEGER NOT NULL,
  idle_expires_at     INTEGER,
  absolute_expires_at INTEGER NOT NULL,
  expires_at          INTEGER NOT NULL,
  authenticated_at    INTEGER NOT NULL,
  persistent          INTEGER NOT NULL, -- 0 or 1
  data                TEXT    NOT NULL, -- JSON
  metadata            TEXT    NOT NULL, -- JSON
  version             INTEGER NOT NULL
) STRICT;

-- listByUser and deleteByUser.
CREATE INDEX IF NOT EXISTS {{sessions_user_index}} ON {{sessions}} (user_id, expires_at);
-- Batched sweeps of expired rows.
CREATE INDEX IF NOT EXISTS {{sessions_expiry_index}} ON {{sessions}} (expires_at);

CREATE TABLE IF NOT EXISTS {{refresh_families}} (
  id                  TEXT    NOT NULL PRIMARY KEY,
  session_id          TEXT    NOT NULL,
  user_id             TEXT    NOT NULL,
  generation          INTEGER NOT NULL,
  current_hash        TEXT    NOT NULL, -- hex SHA-256 of the current refresh secret
  previous_hash       TEXT,
  rotated_at          INTEGER,
  created_at          INTEGER NOT NULL,
  last_used_at        INTEGER NOT NULL,
  idle_expires_at     INTEGER,
  absolute_expires_at INTEGER NOT NULL,
  expires_at          INTEGER NOT NULL,
  revoked_at          INTEGER
) STRICT;

CREATE INDEX IF NOT EXISTS {{refresh_families_session_index}} ON {{refresh_families}} (session_id);
CREATE INDEX IF NOT EXISTS {{refresh_families_expiry_index}} ON {{refresh_families}} (expires_at);
