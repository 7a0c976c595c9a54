export { AppError } from "./app-error.ts"
export { type GroupLinks, makeGroupLinks, REMEMBERED_LINKS_FILE } from "./group-links.ts"
export type {
  AppFile,
  AppGroup,
  AppRefresh,
  AppRefreshedRepo,
  AppRepo,
  AppUploadResult,
} from "./responses.ts"
export {
  type SaveAppApiError,
  type SaveAppApiOptions,
  type SaveAppApiServed,
  type SaveAppListen,
  serveSaveAppApi,
} from "./serve.ts"
