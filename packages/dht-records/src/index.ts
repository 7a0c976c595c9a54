export type { DhtBackend } from "./backend.ts"
export {
  associatedData,
  MAX_RECORD_DATA_SIZE,
  MAX_SUBKEY_SIZE,
  maxSealedSize,
} from "./codec.ts"
export {
  defineRecord,
  makeRecordDefinition,
  type RecordDefinition,
  type RecordValue,
  type SubkeyMap,
  type SubkeyRange,
  type SubkeySchema,
  type ValueAt,
} from "./definition.ts"
export {
  type DhtRecordsError,
  type InvalidReason,
  type Operation,
  type ReadError,
  RecordConflict,
  type RecordConflictOf,
  RecordDecryptFailed,
  RecordFailed,
  RecordInvalid,
  RecordNotFound,
  RecordNotWritable,
  RecordTimeout,
  RecordTooLarge,
} from "./errors.ts"
export { MemoryDhtNetwork, type MemoryDhtNetworkShape, type WatchPolicy } from "./memory-network.ts"
export {
  type CreateOptions,
  DhtRecords,
  type DhtRecordsOptions,
  type DhtRecordsShape,
  type GetOptions,
  type InspectOptions,
  makeDhtRecords,
  makeMemoryDhtRecords,
  memberSubkeys,
  type OpenedRecord,
  type OpenOptions,
  publicKeyOf,
} from "./records.ts"
export {
  CONFLICT_RETRIES,
  type RetryOnConflictOptions,
  retryOnConflict,
} from "./retry-on-conflict.ts"
export type {
  Entry,
  Inspection,
  KeyPair,
  PublicKey,
  RecordKey,
  RecordLayout,
  RecordSchema,
  SubkeySeqs,
  SubkeySpan,
  WatchEvent,
} from "./types.ts"
export { type WatchDelivery, type WatchOptions, watchChanges } from "./watch.ts"
