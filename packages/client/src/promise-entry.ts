// `@save-dweb/client/promise`: the Promise API under the name a non-Effect program
// expects (`makeClient`), with the errors and body types it meets.

export type * from "./backup-schemas.ts"
export { TransportError } from "./client.ts"
export * from "./errors.ts"
export {
  type EventSubscription,
  makeClient,
  type PromiseClientOptions,
  type PromiseDownload,
  type PromiseUploadInput,
  type PromiseUploadOptions,
  type SaveDwebClient,
} from "./promise.ts"
export type * from "./schemas.ts"
