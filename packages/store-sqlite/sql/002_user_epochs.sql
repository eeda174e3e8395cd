-- 002_user_epochs: per-user revocation epochs, and an index for walking one user's sessions in
-- batches. A template like 001_init: placeholders in double braces become quoted identifiers, and
-- every statement is idempotent. It applies to a file that has 001_init only; no row is rewritten.
--
-- "Log out everywhere" writes the user's epoch before it deletes anything: every session of the
-- user whose created_at is earlier than valid_after counts as revoked at once, except keep_id
-- ("log out everywhere else"). Reads join this table, so a session that a racing rotation created
-- after the deletion listed the user's sessions is hidden too. An epoch is kept until expires_at
-- (by then every session it could revoke has expired); sweeps delete it afterwards.

CREATE TABLE IF NOT EXISTS {{user_epochs}} (
  user_id     TEXT    NOT NULL PRIMARY KEY,
  valid_after INTEGER NOT NULL, -- ms, the session manager's clock
  keep_id     TEXT,             -- the one session id the epoch spares, or NULL
  expires_at  INTEGER NOT NULL
) STRICT;

-- Sweeps of expired epochs.
CREATE INDEX IF NOT EXISTS {{user_epochs_expiry_index}} ON {{user_epochs}} (expires_at);

-- listByUser walks a user's sessions in id order, one batch after another (keyset pagination):
-- each batch starts where the last one ended instead of rescanning the user's earlier rows.
CREATE INDEX IF NOT EXISTS {{sessions_user_id_index}} ON {{sessions}} (user_id, id);
