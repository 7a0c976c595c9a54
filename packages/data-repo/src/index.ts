export {
  BACKUP_RECORD_SUBKEYS,
  BACKUP_ROUTE_KEY_NAME,
  BACKUP_ROUTE_SUBKEY,
  BackupRecord,
  backupRouteKey,
  readBackupRoute,
} from "./backups.ts"
export type { CopiesOptions, Holder, HolderCheck } from "./copies.ts"
export {
  type DataRepoError,
  DecryptFailed,
  FileNotFound,
  InvalidFileName,
  type InvalidFileNameReason,
  InvalidManifest,
  NotLocal,
  NotWritable,
  TooManyBackups,
} from "./errors.ts"
export {
  decodeHeldState,
  emptyHeldState,
  encodeHeldState,
  type HeldState,
  type HeldStateBytes,
  InvalidHeldState,
  memorySyncState,
  type SyncStateStore,
  syncStateOver,
} from "./held-state.ts"
export type { KeepSyncedOptions } from "./keep-synced.ts"
export { Manifest, ManifestEntry } from "./manifest.ts"
export { fileNameProblem, MAX_FILE_NAME_BYTES, validateFileName } from "./name.ts"
export {
  askPossession,
  MAX_PROOF_RANGE,
  makeChallenge,
  type Possession,
  ProofAnswer,
  ProofChallenge,
  proofHandler,
} from "./possession.ts"
export { type PublishRouteOptions, publishRoute, type RouteSubkey } from "./publish-route.ts"
export {
  BackupRef,
  MAX_BACKUPS,
  ManifestPointer,
  RepoInfoValue,
  RepoRecord,
  RouteValue,
} from "./record.ts"
export type {
  FileInput,
  ReadFileOptions,
  ReadOptions,
  Repo,
  RepoBlob,
  RepoCredentials,
  RepoFile,
  WriteOptions,
} from "./repo-shape.ts"
export {
  type CreateRepoOptions,
  DataRepos,
  type DataReposOptions,
  type DataReposShape,
  makeDataRepos,
  type OpenMineOptions,
  type OpenOptions,
} from "./repos.ts"
export {
  AddressRefused,
  addressKeyFor,
  groupProtocols,
  IrohAddress,
  LEARNED_ADDRESS,
  TOLD_ADDRESS,
} from "./sources.ts"
export type {
  SweepOptions,
  SyncEvent,
  SyncOptions,
  SyncResult,
} from "./sync.ts"
