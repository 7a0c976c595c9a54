// The request protocol on the server's own route (behind the descriptor's request key): a
// request decoded and answered by `add`, `list` or `remove`; a refusal goes back as
// `Rejected` with its reason, anything else as an internal error (logged here).
import {
  BACKUP_PROTOCOL,
  type BackupResponse,
  decodeBackupRequest,
  encodeBackupResponse,
  type HeldGroup,
  MAX_BACKUP_REQUEST_BYTES,
  type RejectionReason,
} from "@save-dweb/backend"
import type { SecretKey } from "@save-dweb/crypto"
import type { RecordKey } from "@save-dweb/dht-records"
import { requestHandler, type TunnelsShape } from "@save-dweb/tunnels"
import { Data, Effect, Result, type Scope } from "effect"

/** A request the server turns down; the caller gets `reason` and `message`. */
export class Rejected extends Data.TaggedError("Rejected")<{
  readonly reason: RejectionReason
  readonly message: string
}> {}

export const reject = (reason: RejectionReason, message: string) =>
  new Rejected({ reason, message })

/** What the requests ask of the server. */
export interface RequestOperations {
  readonly add: (link: string) => Effect.Effect<{ key: RecordKey; already: boolean }, Rejected>
  readonly list: Effect.Effect<ReadonlyArray<HeldGroup>>
  readonly remove: (
    groupKey: RecordKey,
  ) => Effect.Effect<{ readonly held: boolean; readonly freed: number }, Rejected>
}

const respondWith =
  ({ add, list, remove }: RequestOperations) =>
  (body: Uint8Array): Effect.Effect<BackupResponse> =>
    Effect.gen(function* () {
      const decoded = decodeBackupRequest(body)
      if (Result.isFailure(decoded)) return yield* reject("BadRequest", decoded.failure)
      const request = decoded.success
      switch (request._tag) {
        case "Add": {
          const added = yield* add(request.link)
          return {
            _tag: "Added" as const,
            v: 1 as const,
            group: added.key,
            name: null,
            already: added.already,
          }
        }
        case "List":
          return { _tag: "Groups" as const, v: 1 as const, groups: yield* list }
        case "Remove": {
          const removed = yield* remove(request.group)
          return { _tag: "Removed" as const, v: 1 as const, group: request.group, ...removed }
        }
      }
    }).pipe(
      Effect.catchTag("Rejected", (e) =>
        Effect.as(
          Effect.logInfo("backup-server: request refused").pipe(
            Effect.annotateLogs({ reason: e.reason, detail: e.message }),
          ),
          { _tag: "Rejected", v: 1, reason: e.reason, message: e.message } as const,
        ),
      ),
      Effect.catchCause((cause) =>
        Effect.as(Effect.logError("backup-server: request failed", cause), {
          _tag: "Rejected",
          v: 1,
          reason: "Failed",
          message: "internal error",
        } as const),
      ),
    )

/** Serves the request protocol on `tunnels` to callers holding `requestKey`, for the scope. */
export const serveRequests = (
  tunnels: TunnelsShape,
  requestKey: SecretKey,
  operations: RequestOperations,
): Effect.Effect<void, never, Scope.Scope> => {
  const respond = respondWith(operations)
  return tunnels
    .serve(
      BACKUP_PROTOCOL,
      requestHandler((body) => Effect.map(respond(body), encodeBackupResponse), {
        maxRequestBytes: MAX_BACKUP_REQUEST_BYTES,
      }),
      { keys: [requestKey] },
    )
    .pipe(Effect.orDie)
}
