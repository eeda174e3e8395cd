export { PostgresAttemptCounter, type PostgresAttemptCounterOptions } from './attempts.js';
export type { PostgresClient, PostgresJsClient, PostgresJsReserved } from './client.js';
export type { PostgresFailureReason } from './errors.js';
export {
  DEFAULT_REVOCATION_CHANNEL,
  PostgresRevocationChannel,
  type PostgresRevocationChannelOptions,
} from './revocation.js';
export {
  DEFAULT_SCHEMA,
  DEFAULT_TABLES,
  MIGRATIONS,
  type PostgresSchemaOptions,
  type PostgresTableNames,
  type ResolvedSchema,
  renderMigrations,
} from './schema.js';
export {
  DEFAULT_CONNECTION_TIMEOUT_MS,
  DEFAULT_DELETE_ALL_BATCH_SIZE,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  DEFAULT_SWEEP_BATCH_SIZE,
  DEFAULT_SWEEP_MAX_BATCHES,
  DEFAULT_USER_BATCH_SIZE,
  type DeleteAllOptions,
  PostgresStore,
  type PostgresStoreOptions,
  type SweepOptions,
  type SweepResult,
} from './store.js';
