// The listener: TCP (127.0.0.1 unless told otherwise) or a unix socket made 0600, in the
// caller's scope. It has no token, because the app sends none: whoever can connect can
// use every group of the daemon (see the README, "Who can reach it").
import type { BackendShape } from "@save-dweb/backend"
import { type Listening, type ListenOn, listenHttp } from "@save-dweb/rpc-server"
import { Data, Deferred, Effect, Layer, type Scope } from "effect"
import { makeGroupLinks } from "./group-links.ts"
import { makeRoutes, notFoundRoute } from "./routes.ts"

/** Where to listen: TCP (default host 127.0.0.1; port 0 = any free port) or a unix socket. */
export type SaveAppListen = ListenOn

export interface SaveAppApiOptions {
  readonly listen: SaveAppListen
  /**
   * The backend, completed once it has started: until then `/status` and `/health` answer
   * and everything else 503, so the app's start-up checks see the daemon starting.
   */
  readonly backend: Deferred.Deferred<BackendShape>
  /** Where the remembered write links (`save-app-links.json`, mode 0600) are kept. */
  readonly dataDir: string
  /** Reported by `/status`. */
  readonly version: string
  /** Largest upload (default 64 GiB). */
  readonly maxUploadBytes?: number
}

export type SaveAppApiServed = Listening

/** The listener could not start: address in use, socket path taken. */
export class SaveAppApiError extends Data.TaggedError("SaveAppApiError")<{
  readonly message: string
}> {}

/** Serves the Save app's API in the current scope (closing the scope stops it). */
export const serveSaveAppApi = (
  options: SaveAppApiOptions,
): Effect.Effect<SaveAppApiServed, SaveAppApiError, Scope.Scope> =>
  Effect.gen(function* () {
    const links = yield* makeGroupLinks(options.dataDir)
    yield* Deferred.await(options.backend).pipe(
      Effect.flatMap(links.followMembers),
      Effect.forkScoped,
    )
    const routes = Layer.mergeAll(
      makeRoutes({
        backend: options.backend,
        links,
        version: options.version,
        maxUploadBytes: options.maxUploadBytes ?? 64 * 1024 ** 3,
      }),
      notFoundRoute,
    )
    return yield* listenHttp(routes, { listen: options.listen }).pipe(
      Effect.mapError((e) => new SaveAppApiError({ message: e.message })),
    )
  })
