// The server of the API that `@save-dweb/client` describes. The description, its
// schemas and errors, and the typed client are `@save-dweb/client`'s; nothing of it is
// re-exported here.
export { toApiError } from "./error-mapping.ts"
export {
  ListenError,
  type Listening,
  type ListenOn,
  type ListenOptions,
  listenHttp,
} from "./listen.ts"
export { parseRange, type RangeRequest } from "./range.ts"
export {
  DEFAULT_MAX_JSON_BYTES,
  DEFAULT_MAX_UPLOAD_BYTES,
  type Served,
  ServeError,
  type ServeOptions,
  serve,
} from "./server.ts"
export { generateToken, loadOrCreateToken, TOKEN_FILE, TokenFileError } from "./token.ts"
