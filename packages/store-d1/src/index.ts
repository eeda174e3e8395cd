export type { D1DatabaseLike, D1ResultLike, D1StatementLike } from './d1.js';
export type { D1FailureReason } from './errors.js';
export {
  type D1SchemaOptions,
  type D1TableNames,
  DEFAULT_TABLES,
  MIGRATIONS,
  type ResolvedD1Tables,
  renderMigrations,
} from './schema.js';
export {
  D1Store,
  type D1StoreOptions,
  DEFAULT_DELETE_ALL_BATCH_SIZE,
  DEFAULT_SWEEP_BATCH_SIZE,
  DEFAULT_SWEEP_MAX_BATCHES,
  DEFAULT_USER_BATCH_SIZE,
  type DeleteAllOptions,
  type SweepOptions,
  type SweepResult,
} from './store.js';
