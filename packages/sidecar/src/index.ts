export {
  configFromEnvironment,
  DEFAULT_HOST,
  DEFAULT_PATHS,
  DEFAULT_PORT,
  ENVIRONMENT_VARIABLES,
  isSidecarConfigError,
  parseSidecarConfig,
  type ResolvedSidecarConfig,
  type SessionIdHeaderMode,
  type SidecarConfig,
  SidecarConfigError,
  type SidecarConfigErrorCode,
  type SidecarJwtConfig,
  type SidecarMode,
  type SidecarPostgresStoreConfig,
  type SidecarRedisStoreConfig,
  type SidecarRevocationConfig,
  type SidecarStoreConfig,
} from './config.js';
export {
  AUTH_TIME_HEADER,
  CLAIM_HEADER_PREFIX,
  headerValue,
  SESSION_ID_HEADER,
  type SidecarIdentity,
  USER_ID_HEADER,
} from './identity.js';
export type { Sidecar } from './server.js';
export { createSidecar } from './sidecar.js';
