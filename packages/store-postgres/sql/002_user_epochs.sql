-- 002_user_epochs: per-user revocation epochs, and an index for per-user batches.
--
-- A template like 001_init: `store.migrate()` (or `renderMigrations()`) fills in the quoted names.
-- Every statement is idempotent, and it applies to a database that has 001_init only.
--
-- "Log out everywhere" writes the user's epoch before it deletes any session: every session of
-- the user created before `valid_after` (ms, the manager's clock) is revoked at once, except
-- `keep_id`. Reads join this table, so a session created by a rotation that raced the revocation
-- is hidden too (rotation keeps `created_at`). A row is kept until `expires_at`, by when every
-- session it could revoke has expired; sweeps then delete it.

CREATE TABLE IF NOT EXISTS {{schema}}.{{user_epochs}} (
  user_id     text   PRIMARY KEY,
  valid_after bigint NOT NULL,
  keep_id     text,
  expires_at  bigint NOT NULL
);

-- Batched sweeps of expired epochs.
CREATE INDEX IF NOT EXISTS {{user_epochs_expiry_index}} ON {{schema}}.{{user_epochs}} (expires_at);

-- listByUser and deleteByUser walk one user's sessions in id order, a batch per statement.
-- On a large sessions table this build blocks writes to it while it runs: create the index
-- beforehand with CREATE INDEX CONCURRENTLY under this name, and this statement does nothing.
CREATE INDEX IF NOT EXISTS {{sessions_user_id_index}} ON {{schema}}.{{sessions}} (user_id, id);
