export {
  BlobStore,
  type BlobStoreService,
  type ByteRange,
  type CollectionChanges,
  type DeleteResult,
  type ReadOptions,
  type StoredRoot,
} from "./blob-store.ts"
export { type CollectionEntry, decodeHashSeq, encodeCollection } from "./collection.ts"
export {
  AllSourcesFailed,
  BlobNotFound,
  DiskFull,
  type FetchError,
  HashMismatch,
  InvalidCollection,
  InvalidRange,
  IoError,
  MAX_BLOB_BYTES,
  NoSource,
  NotFoundAtSource,
  SourceError,
  type SourceFailure,
  SourceTimeout,
  SourceUnreachable,
  StoreClosed,
  type StoreError,
  UnexpectedSize,
  UnsupportedSource,
} from "./errors.ts"
export { BlobHash, blake3, decodeBlobHash, isBlobHash } from "./hash.ts"
export type { IrohStoreConfig } from "./iroh-node.ts"
export { layer } from "./iroh-store.ts"
export { layerMemory, type MemoryOptions } from "./memory.ts"
export type {
  ByteStreamSource,
  FetchDone,
  FetchEvent,
  FetchProgress,
  FetchRequest,
  FetchResult,
  FetchSourceFailed,
  IrohSource,
  MemorySource,
  Source,
  SourceProgress,
  TunnelSource,
} from "./source.ts"
export {
  BLOBS_PROTOCOL,
  BlobRequest,
  BlobResponse,
  MAX_HAS_HASHES,
} from "./tunnel-protocol.ts"
export {
  blobsHandler,
  type ServeBlobsOptions,
  serveBlobs,
} from "./tunnel-provider.ts"
export {
  askHas,
  connectTunnelSource,
  type TunnelSourceOptions,
  tunnelSource,
  whoHas,
} from "./tunnel-source.ts"
