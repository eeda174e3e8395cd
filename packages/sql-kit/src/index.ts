/**
 * What the PostgreSQL and SQLite stores share, private to this repository: table names and
 * identifier rules, migration templates, the columns and the row codec, the statements every
 * dialect writes alike, the batch loops of sweeps and bulk deletes, the error mapping, and the
 * store methods built on them ({@link SqlStore}). Each store bundles it at build time, so no user
 * installs it; what differs between dialects stays in each store.
 */
export {
  type Batch,
  DEFAULT_DELETE_ALL_BATCH_SIZE,
  DEFAULT_SWEEP_BATCH_SIZE,
  DEFAULT_SWEEP_MAX_BATCHES,
  type DeleteAllOptions,
  deleteAllTables,
  fromStart,
  type Pause,
  positiveInteger,
  type SweepOptions,
  type SweepResult,
  sweepTables,
  walk,
} from './batches.js';
export {
  columnsOf,
  type Dialect,
  EPOCH_COLUMNS,
  FAMILY_COLUMNS,
  ONCE_COLUMNS,
  type Row,
  type RowCodec,
  rowCodec,
  SESSION_COLUMNS,
} from './codec.js';
export { type DriverErrors, storeErrors } from './errors.js';
export { type QueryAnswer, SqlStore } from './sql-store.js';
export {
  type SessionTable,
  type SharedStatement,
  type SqlTables,
  SWEEP,
  sharedStatements,
  type Table,
} from './statements.js';
export {
  checkIdentifier,
  columnsMismatch,
  DEFAULT_TABLE_NAMES,
  MIGRATIONS,
  mapTables,
  migrationNames,
  quoteIdentifier,
  renderTemplate,
  resolveTableNames,
  type TableNames,
} from './tables.js';
