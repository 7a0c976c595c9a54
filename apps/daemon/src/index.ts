// Who holds a data dir (the daemon takes its lock before anything else), for the CLI.
export { dataDirHolder, type LockOwner } from "@save-dweb/backend"
export {
  ConfigError,
  type DaemonConfig,
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_PORT,
  defaultDataDir,
  type Listen,
  type LogLevel,
  type Network,
  parseListen,
  parseNetwork,
  type ResolvedConfig,
  resolveConfig,
  usage,
} from "./config.ts"
export { type DaemonEnvironment, runDaemon, VERSION } from "./daemon.ts"
export { type DaemonState, readState, STATE_FILE, statePath } from "./state.ts"
