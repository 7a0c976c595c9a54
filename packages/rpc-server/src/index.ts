export {
  Api,
  Auth,
  Decoding,
  FilesGroup,
  GroupsGroup,
  NodeGroup,
  PairingGroup,
  SystemGroup,
} from "./api.ts"
export {
  type ClientError,
  type ClientOptions,
  type Download,
  type DownloadOptions,
  makeClient,
  type RepoKey,
  type RpcClient,
  TransportError,
  type UploadOptions,
} from "./client.ts"
export { docsPage, openApiDocument } from "./docs.ts"
export { toApiError } from "./error-mapping.ts"
export * from "./errors.ts"
export { parseRange, type RangeRequest } from "./range.ts"
export * from "./schemas.ts"
export {
  DEFAULT_MAX_JSON_BYTES,
  DEFAULT_MAX_UPLOAD_BYTES,
  type ListenOn,
  type Served,
  ServeError,
  type ServeOptions,
  serve,
} from "./server.ts"
export { generateToken, loadOrCreateToken, TOKEN_FILE, TokenFileError } from "./token.ts"
