export { SqliteAttemptCounter, type SqliteAttemptCounterOptions } from './attempts.js';
export type { SqliteFailureReason } from './errors.js';
export {
  DEFAULT_TABLES,
  MIGRATIONS,
  type ResolvedTables,
  renderMigrations,
  type SqliteSchemaOptions,
  type SqliteTableNames,
} from './schema.js';
export {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_DELETE_ALL_BATCH_SIZE,
  DEFAULT_SQLITE_PATH,
  DEFAULT_SWEEP_BATCH_SIZE,
  DEFAULT_SWEEP_MAX_BATCHES,
  DEFAULT_USER_BATCH_SIZE,
  type DeleteAllOptions,
  SqliteStore,
  type SqliteStoreOptions,
  type SweepOptions,
  type SweepResult,
} from './store.js';
