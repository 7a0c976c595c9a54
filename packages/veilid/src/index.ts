export {
  type DhtTuning,
  decodeConfig,
  defaultConfig,
  type MakeConfigOptions,
  makeConfig,
  type PrivateNetwork,
  patchConfig,
  type VeilidConfig,
} from "./config.ts"
export {
  fromApiError,
  VeilidAlreadyInitialized,
  type VeilidError,
  VeilidInternal,
  VeilidInvalidArgument,
  VeilidInvalidTarget,
  VeilidKeyNotFound,
  VeilidMissingArgument,
  VeilidNoConnection,
  VeilidNotInitialized,
  VeilidParseError,
  VeilidShutdown,
  VeilidTimeout,
  VeilidTransactionNotFound,
  VeilidTryAgain,
  VeilidUnimplemented,
} from "./errors.ts"
export { lockFile, lockFileHolder, unlockFile } from "./file-lock.ts"
export { MAX_APP_MESSAGE_BYTES, MAX_RECORD_BYTES, MAX_SUBKEY_BYTES } from "./limits.ts"
export type * from "./types.ts"
export {
  enableLogging,
  makeVeilid,
  type RoutingContext,
  type TableDb,
  Veilid,
  type VeilidLayerOptions,
  type VeilidShape,
} from "./veilid.ts"
