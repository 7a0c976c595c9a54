export {
  ConfigError,
  type LogLevel,
  type Network,
  type ProcessConfig,
  resolveConfig,
  usage,
} from "./config.ts"
export { type BackupServerConfig, makeRealBackupServer } from "./real.ts"
export { Rejected } from "./requests.ts"
export {
  type BackupServerOptions,
  type BackupServerServices,
  type BackupServerShape,
  makeBackupServer,
  type StartError,
} from "./server.ts"
export {
  decodeIdentity,
  encodeIdentity,
  InvalidServerState,
  memoryServerState,
  SERVER_STATE_DB,
  type ServerIdentity,
  type ServerStateStore,
  tableStoreServerState,
} from "./state.ts"
