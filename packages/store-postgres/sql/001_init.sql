-- 001_init: the tables of @org/session-store-postgres.
--
-- This file is a template: `store.migrate()` (or `renderMigrations()`) replaces each placeholder in
-- double braces with a validated, double-quoted identifier. Every statement is idempotent.
--
-- Times are milliseconds since the Unix epoch, always taken from the session manager's clock and
-- never from the database's now(): one clock decides expiry. `expires_at` is the earlier of the idle
-- and absolute deadlines; reads ignore rows with expires_at <= now and sweeps delete them.

CREATE SCHEMA IF NOT EXISTS {{schema}};

CREATE TABLE IF NOT EXISTS {{schema}}.{{sessions}} (
  id                  text    PRIMARY KEY,
  secret_hash         text    NOT NULL, -- hex SHA-256 of the token secret; the secret is never stored
  user_id             text    NOT NULL,
  created_at          bigint  NOT NULL,
  last_seen_at        bigint  NOT NULL,
  idle_expires_at     bigint,
  absolute_expires_at bigint  NOT NULL,
  expires_at          bigint  NOT NULL,
  authenticated_at    bigint  NOT NULL,
  persistent          boolean NOT NULL,
  data                jsonb   NOT NULL,
  metadata            jsonb   NOT NULL,
  version             integer NOT NULL
);

-- listByUser and deleteByUser.
CREATE INDEX IF NOT EXISTS {{sessions_user_index}} ON {{schema}}.{{sessions}} (user_id, expires_at);
-- Batched sweeps of expired rows.
CREATE INDEX IF NOT EXISTS {{sessions_expiry_index}} ON {{schema}}.{{sessions}} (expires_at);

CREATE TABLE IF NOT EXISTS {{schema}}.{{refresh_families}} (
  id                  text    PRIMARY KEY,
  session_id          text    NOT NULL,
  user_id             text    NOT NULL,
  generation          integer NOT NULL,
  current_hash        text    NOT NULL, -- hex SHA-256 of the current refresh secret
  previous_hash       text,
  rotated_at          bigint,
  created_at          bigint  NOT NULL,
  last_used_at        bigint  NOT NULL,
  idle_expires_at     bigint,
  absolute_expires_at bigint  NOT NULL,
  expires_at          bigint  NOT NULL,
  revoked_at          bigint
);

CREATE INDEX IF NOT EXISTS {{refresh_families_session_index}} ON {{schema}}.{{refresh_families}} (session_id);
CREATE INDEX IF NOT EXISTS {{refresh_families_expiry_index}} ON {{schema}}.{{refresh_families}} (expires_at);
