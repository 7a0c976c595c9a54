// What the app reads when a call fails: a status it only tells apart from success, and a body
// that is a bare JSON string (save-rust's `"Something went wrong: ..."`), which it shows.
import { Data } from "effect"
import { HttpServerResponse } from "effect/http"

/** A failure answered to the app: the status and the message it shows. */
export class AppError extends Data.TaggedError("AppError")<{
  readonly status: number
  readonly message: string
}> {}

// Backend tags a user can cause, by status; everything else is 500 (as save-rust answered
// every failure) but for the network's own trouble (503: the app may retry).
const statusByTag: Readonly<Record<string, number>> = {
  UnknownGroup: 404,
  UnknownRepo: 404,
  FileNotFound: 404,
  InvalidFileName: 400,
  InvalidName: 400,
  InvalidInvite: 400,
  InvalidCredentials: 400,
  InsufficientCapability: 403,
  NotWritable: 403,
  SlotRevoked: 403,
  NotAMember: 403,
  RecordNotWritable: 403,
  GroupFull: 409,
  RecordConflict: 409,
  VeilidTryAgain: 503,
  VeilidNoConnection: 503,
  VeilidNotInitialized: 503,
  VeilidShutdown: 503,
  StoreClosed: 503,
  RouteUnavailable: 503,
  RecordTimeout: 504,
  VeilidTimeout: 504,
  SourceTimeout: 504,
}

/** A backend failure as the app sees it: the error's own message. */
export const appErrorOf = (error: { readonly _tag: string; readonly message: string }): AppError =>
  error instanceof AppError
    ? error
    : new AppError({
        status: statusByTag[error._tag] ?? 500,
        message: error.message === "" ? error._tag : error.message,
      })

export const errorResponse = (error: AppError) =>
  HttpServerResponse.jsonUnsafe(error.message, { status: error.status })
