// Listening in the caller's scope, the one way the daemon's HTTP servers do it (this API
// and `@save-dweb/save-app-api`'s): TCP on 127.0.0.1 unless told otherwise, or a unix
// socket made 0600; no overall request timeout; long path parameters.
import { chmod } from "node:fs/promises"
import { createServer, type Server } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { freeSocketPath } from "@save-dweb/backend"
import { Context, Data, Duration, Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"

/** Where to listen: TCP (default host 127.0.0.1; port 0 = any free port) or a unix socket. */
export type ListenOn =
  | { readonly host?: string; readonly port: number }
  | { readonly socket: string }

export interface Listening {
  /** `http://127.0.0.1:<port>` (TCP), or `http://localhost` for a unix socket. */
  readonly url: string
  readonly address:
    | { readonly _tag: "Tcp"; readonly host: string; readonly port: number }
    | { readonly _tag: "Socket"; readonly path: string }
}

/** The server could not listen: socket path taken, address in use. */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly message: string
}> {}

export interface ListenOptions {
  readonly listen: ListenOn
  /** Log each request (Effect's HTTP logger); default off. */
  readonly logRequests?: boolean
  /** Sees the Node server before it listens (e.g. to follow its connections). */
  readonly onServer?: (server: Server) => void
}

/**
 * Serves `routes` (an `HttpRouter` app) on `options.listen` until the scope closes;
 * requests still running then get 5 seconds to finish.
 */
export const listenHttp = <A, R>(routes: Layer.Layer<A, never, R>, options: ListenOptions) =>
  Effect.gen(function* () {
    const listen = options.listen
    const socket = "socket" in listen ? listen.socket : undefined
    const host = "socket" in listen ? undefined : (listen.host ?? "127.0.0.1")
    if (socket !== undefined)
      yield* freeSocketPath(socket).pipe(
        Effect.mapError((e) => new ListenError({ message: e.message })),
      )
    // No overall request timeout: a large upload may take longer than Node's 5 minutes.
    const nodeServer = createServer({ requestTimeout: 0, headersTimeout: 60_000 })
    options.onServer?.(nodeServer)
    const server = NodeHttpServer.layer(() => nodeServer, {
      ...(socket !== undefined
        ? { path: socket }
        : { host, port: "port" in listen ? listen.port : 0 }),
      // Requests still running when the scope closes get this long to finish.
      gracefulShutdownTimeout: Duration.seconds(5),
    })
    const context = yield* Layer.build(
      HttpRouter.serve(routes, {
        // A file name may be 255 UTF-8 bytes, up to 765 characters percent-encoded;
        // the router's default (100) would answer a long name with 404.
        routerConfig: { maxParamLength: 1024 },
        disableListenLog: true,
        disableLogger: options.logRequests !== true,
      }).pipe(Layer.provideMerge(server)),
    ).pipe(
      Effect.mapError(
        (e) => new ListenError({ message: `cannot listen: ${String(e.cause ?? e)}` }),
      ),
    )
    const bound = Context.get(context, HttpServer.HttpServer).address
    if (socket !== undefined) {
      // Only this user may connect: the socket is the server's door.
      yield* Effect.promise(() => chmod(socket, 0o600))
    }
    const port = bound._tag === "UnixPathAddress" ? 0 : bound.port
    const urlHost = host?.includes(":") ? `[${host}]` : (host ?? "127.0.0.1")
    const listening: Listening =
      socket !== undefined
        ? { url: "http://localhost", address: { _tag: "Socket", path: socket } }
        : {
            url: `http://${urlHost}:${port}`,
            address: { _tag: "Tcp", host: host ?? "127.0.0.1", port },
          }
    return listening
  })
