export {
  Backend,
  type BackendConfig,
  type BackendServices,
  makeBackend,
  makeRealBackend,
} from "./backend.ts"
export {
  type BackupError,
  type BackupRefusal,
  BackupRefused,
  BackupUnreachable,
  InvalidBackupLink,
} from "./backup-errors.ts"
export {
  BACKUP_PROTOCOL,
  BACKUP_REQUESTS_KEY_NAME,
  type BackupKeys,
  BackupRequest,
  BackupResponse,
  backupKeysOf,
  decodeBackupRequest,
  decodeBackupResponse,
  descriptorKeys,
  encodeBackupRequest,
  encodeBackupResponse,
  HeldGroup,
  MAX_BACKUP_REQUEST_BYTES,
  MAX_BACKUP_RESPONSE_BYTES,
  RejectionReason,
} from "./backup-protocol.ts"
export {
  type BackupAdded,
  type BackupRemoved,
  type BackupsDeps,
  type BackupsShape,
  type GroupBackup,
  makeBackups,
  type RemoveBackupOptions,
} from "./backups.ts"
export {
  DATA_DIR_LOCK_FILE,
  DataDirLocked,
  dataDirHolder,
  dataDirLockPath,
  LockOwner,
  lockDataDir,
} from "./data-dir-lock.ts"
export {
  GroupAlreadyKnown,
  InvalidKnownGroup,
  InvalidPairingLink,
  MemberUnreachable,
  NotOwnSlot,
  NotPairable,
  UnknownGroup,
  UnknownRepo,
} from "./errors.ts"
export type { BackendEvent, MemberChangeSummary } from "./events.ts"
export {
  decodeKnownGroup,
  encodeKnownGroup,
  KNOWN_GROUPS_DB,
  type KnownGroup,
  type KnownGroupsStore,
  memoryKnownGroups,
  openKnownGroup,
  sealKnownGroup,
  tableStoreKnownGroups,
} from "./known-groups.ts"
export {
  makeNode,
  makeNodeWith,
  type NetworkStatus,
  type Node,
  type NodeConfig,
  type NodeError,
  type NodeParts,
  type NodeState,
  type VeilidNode,
  veilidConfigOf,
} from "./node.ts"
export {
  effectLogLevel,
  exitWith,
  InvalidConfigFile,
  InvalidNetworkChoice,
  jsonLinesLogger,
  type LogLevel,
  logLevels,
  type NetworkChoice,
  type ProcessOptions,
  parseNetworkChoice,
  readJsonConfigFile,
  runProcess,
  veilidNetworkOf,
} from "./process.ts"
export type {
  AutoSync,
  BackendError,
  BackendShape,
  BackendStatus,
  CopiesSummary,
  CreateGroupOptions,
  FileCopies,
  FileCopy,
  FileRead,
  GroupSummary,
  JoinGroupOptions,
  LoadedGroup,
  MemberRemoved,
  MemberSummary,
  PairingError,
  PingError,
  RepoRef,
  RepoSummary,
} from "./shape.ts"
export { freeSocketPath, SocketPathTaken } from "./socket-path.ts"
export {
  isStorageLocked,
  PassphraseRequired,
  readPassphraseFile,
  STORAGE_LOCK_FILE,
  StorageLockError,
  storageLockPath,
  type UnlockError,
  type UnlockedStorage,
  unlockStorage,
  unlockWithPassphraseFile,
  veilidStoragePassword,
  WrongPassphrase,
} from "./storage-lock.ts"
export { sweepStore } from "./sweep.ts"
export { SYNC_STATE_DB, syncStateInTable, tableStoreSyncState } from "./sync-state.ts"
