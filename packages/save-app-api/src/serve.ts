// The listener: TCP (127.0.0.1 unless told otherwise) or a unix socket made 0600, in the
// caller's scope. It has no token, because the app sends none: whoever can connect can
// use every group of the daemon (see the README, "Who can reach it").
import { chmod, lstat, unlink } from "node:fs/promises"
import { createServer } from "node:http"
import { connect } from "node:net"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type { BackendShape } from "@save-dweb/backend"
import { Context, Data, Deferred, Duration, Effect, Layer, type Scope } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { makeGroupLinks } from "./group-links.ts"
import { makeRoutes, notFoundRoute } from "./routes.ts"

/** Where to listen: TCP (default host 127.0.0.1; port 0 = any free port) or a unix socket. */
export type SaveAppListen =
  | { readonly host?: string; readonly port: number }
  | { readonly socket: string }

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

export interface SaveAppApiServed {
  /** `http://127.0.0.1:<port>` (TCP), or `http://localhost` for a unix socket. */
  readonly url: string
  readonly address:
    | { readonly _tag: "Tcp"; readonly host: string; readonly port: number }
    | { readonly _tag: "Socket"; readonly path: string }
}

/** The listener could not start: address in use, socket path taken. */
export class SaveAppApiError extends Data.TaggedError("SaveAppApiError")<{
  readonly message: string
}> {}

/** Refuses a socket path a live server answers on; removes a stale one. */
const freeSocketPath = (path: string) =>
  Effect.tryPromise({
    try: async () => {
      const found = await lstat(path).catch(() => undefined)
      if (found === undefined) return
      if (!found.isSocket()) throw new Error(`${path} exists and is not a socket`)
      const live = await new Promise<boolean>((resolve) => {
        const socket = connect(path)
        socket.once("connect", () => {
          socket.destroy()
          resolve(true)
        })
        socket.once("error", () => resolve(false))
      })
      if (live) throw new Error(`a server already listens on ${path}`)
      await unlink(path)
    },
    catch: (e) => new SaveAppApiError({ message: e instanceof Error ? e.message : String(e) }),
  })

/** Serves the Save app's API in the current scope (closing the scope stops it). */
export const serveSaveAppApi = (
  options: SaveAppApiOptions,
): Effect.Effect<SaveAppApiServed, SaveAppApiError, Scope.Scope> =>
  Effect.gen(function* () {
    const listen = options.listen
    const socket = "socket" in listen ? listen.socket : undefined
    const host = "socket" in listen ? undefined : (listen.host ?? "127.0.0.1")
    if (socket !== undefined) yield* freeSocketPath(socket)
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
    const server = NodeHttpServer.layer(
      // No overall request timeout: a large upload may take longer than Node's 5 minutes.
      () => createServer({ requestTimeout: 0, headersTimeout: 60_000 }),
      {
        ...(socket !== undefined
          ? { path: socket }
          : { host, port: "port" in listen ? listen.port : 0 }),
        gracefulShutdownTimeout: Duration.seconds(5),
      },
    )
    const context = yield* Layer.build(
      HttpRouter.serve(routes, {
        // File names travel percent-encoded: up to 765 characters for 255 UTF-8 bytes.
        routerConfig: { maxParamLength: 1024 },
        disableListenLog: true,
        disableLogger: true,
      }).pipe(Layer.provideMerge(server)),
    ).pipe(
      Effect.mapError(
        (e) => new SaveAppApiError({ message: `cannot listen: ${String(e.cause ?? e)}` }),
      ),
    )
    const bound = Context.get(context, HttpServer.HttpServer).address
    if (socket !== undefined) {
      // Only this user may connect: on Android, only the app that runs the daemon.
      yield* Effect.promise(() => chmod(socket, 0o600))
      return { url: "http://localhost", address: { _tag: "Socket", path: socket } } as const
    }
    const port = bound._tag === "UnixPathAddress" ? 0 : bound.port
    const urlHost = host?.includes(":") ? `[${host}]` : (host ?? "127.0.0.1")
    return {
      url: `http://${urlHost}:${port}`,
      address: { _tag: "Tcp", host: host ?? "127.0.0.1", port },
    } as const
  })
