export {
  Api,
  Auth,
  BackupsGroup,
  Decoding,
  FilesGroup,
  GroupsGroup,
  NodeGroup,
  PairingGroup,
  SystemGroup,
} from "./api.ts"
export * from "./backup-schemas.ts"
export {
  type ClientError,
  type ClientOptions,
  type Download,
  type DownloadOptions,
  makeClient,
  type RepoKey,
  type RpcClient,
  TransportError,
  type UploadInput,
  type UploadOptions,
} from "./client.ts"
export * from "./errors.ts"
export { openApiDocument } from "./openapi.ts"
export {
  type EventSubscription,
  makeClient as makePromiseClient,
  type PromiseClientOptions,
  type PromiseDownload,
  type PromiseUploadInput,
  type PromiseUploadOptions,
  type SaveDwebClient,
} from "./promise.ts"
export * from "./schemas.ts"
