// The HTTP server over a backend: the HttpApi's handlers (`handlers/`, one module per
// route group), bearer auth, the error shape for everything (undecodable requests, unknown
// routes, defects), `/docs`, and listening on 127.0.0.1 or a unix socket in the caller's
// scope.

import type { IncomingMessage, Server } from "node:http"
import type { Socket } from "node:net"
import type { BackendShape } from "@save-dweb/backend"
import {
  Api,
  type ApiError,
  Auth,
  BadRequest,
  Decoding,
  Forbidden,
  Internal,
  NotFound,
  openApiDocument,
  PayloadTooLarge,
  Unauthorized,
} from "@save-dweb/client"
import {
  ByteSize,
  Cause,
  Data,
  Deferred,
  Effect,
  Layer,
  Redacted,
  type Scope,
  type Types,
} from "effect"
import {
  HttpIncomingMessage,
  HttpRouter,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse,
} from "effect/http"
import { HttpApiBuilder, HttpApiError, HttpApiSecurity } from "effect/http-api"
import { docsGate, docsLayer } from "./docs.ts"
import { errorResponse, handlers } from "./handlers/index.ts"
import { allowedHosts, hostAllowed } from "./host-check.ts"
import { type Listening, type ListenOn, listenHttp } from "./listen.ts"
import { makeSignInCodes } from "./sign-in.ts"
import { loadStaticFiles, pageHeaders, type StaticFile } from "./static-files.ts"
import { loadOrCreateToken, tokensEqual } from "./token.ts"

/** Keeps `waiting` to the server's connections that have not begun a request yet. */
const followConnectionsWithoutRequest = (server: Server, waiting: Set<Socket>): void => {
  server.on("connection", (connection: Socket) => {
    waiting.add(connection)
    connection.once("close", () => waiting.delete(connection))
  })
  server.on("request", (request: IncomingMessage) => waiting.delete(request.socket))
}

export interface ServeOptions {
  readonly backend: BackendShape
  /** Where the token file (`rpc-token`, mode 0600) is kept. */
  readonly dataDir: string
  readonly listen: ListenOn
  /** Largest upload body (default 64 GiB). */
  readonly maxUploadBytes?: number
  /** Largest JSON request body (default 1 MiB). */
  readonly maxJsonBytes?: number
  /** Log each request (Effect's HTTP logger); default off. */
  readonly logRequests?: boolean
  /**
   * A directory of built web files served at `/` with a strict Content-Security-Policy
   * (the daemon's UI, which signs in with a one-time code). Default: none.
   */
  readonly staticDir?: string
}

export interface Served extends Listening {
  readonly token: string
  readonly tokenFile: string
}

/** The server could not start: token file, address in use, socket path taken. */
export class ServeError extends Data.TaggedError("ServeError")<{
  readonly message: string
}> {}

export const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 ** 3
export const DEFAULT_MAX_JSON_BYTES = 1024 ** 2

const isMaxBytesExceeded = (defect: unknown): boolean => {
  let current: unknown = defect
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    if ((current as { message?: unknown }).message === "maxBytes exceeded") return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

/** The error a request's failure cause stands for, if it is one a client caused. */
const requestErrorOf = (cause: Cause.Cause<unknown>): ApiError | undefined => {
  for (const reason of cause.reasons) {
    const value =
      reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : undefined
    if (value === undefined) continue
    if (HttpApiError.HttpApiSchemaError.is(value)) {
      if (value.kind === "Body" || value.kind === "ResponseHeaders") return undefined
      return new BadRequest({
        message: `request ${value.kind.toLowerCase()} does not decode: ${value.cause.message}`,
      })
    }
    if (HttpApiError.HttpApiPayloadTooLarge.is(value) || isMaxBytesExceeded(value)) {
      return new PayloadTooLarge({ message: "request body too large" })
    }
  }
  return undefined
}

const unauthorized = () => new Unauthorized({ message: "missing or wrong bearer token" })

const authLayer = (token: string) =>
  Layer.succeed(Auth)({
    bearer: (httpEffect, { credential }) =>
      tokensEqual(Redacted.value(credential), token) ? httpEffect : Effect.fail(unauthorized()),
  })

/**
 * A route outside the HttpApi (`/openapi.json`, `/docs`) behind the same bearer token,
 * read from the request as the API's own security does.
 */
const withToken = (token: string, response: HttpServerResponse.HttpServerResponse) =>
  Effect.map(HttpApiBuilder.securityDecode(HttpApiSecurity.bearer), (credential) =>
    tokensEqual(Redacted.value(credential), token) ? response : errorResponse(unauthorized()),
  )

const decodingLayer = (maxJsonBytes: number) =>
  Layer.succeed(Decoding)((httpEffect) =>
    httpEffect.pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxJsonBytes)),
      Effect.catchCause((cause): Effect.Effect<never, Types.unhandled | ApiError> => {
        const error = requestErrorOf(cause)
        return error === undefined ? Effect.failCause(cause) : Effect.fail(error)
      }),
    ),
  )

/**
 * Everything that reaches the router's edge without a response: unknown routes (404),
 * undecodable requests (400, 413) and defects (500, logged), all in the error shape.
 */
const errorShape = HttpRouter.middleware(
  (httpEffect) =>
    Effect.catchCause(httpEffect, (cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
      for (const reason of cause.reasons) {
        if (reason._tag === "Die" && HttpServerResponse.isHttpServerResponse(reason.defect)) {
          return Effect.succeed(reason.defect)
        }
        if (
          reason._tag === "Fail" &&
          reason.error instanceof HttpServerError.HttpServerError &&
          reason.error.reason._tag === "RouteNotFound"
        ) {
          return Effect.succeed(errorResponse(new NotFound({ message: "no such route" })))
        }
      }
      const error = requestErrorOf(cause)
      if (error !== undefined) return Effect.succeed(errorResponse(error))
      return Effect.as(
        Effect.logError("rpc-server: request failed unexpectedly", cause),
        errorResponse(new Internal({ message: "internal error (logged by the server)" })),
      )
    }),
  { global: true },
)

interface HostsAllowed {
  current: ReadonlySet<string> | undefined
  /** No check: a unix socket, or every interface. */
  socket: boolean
}

/**
 * Answers only requests whose `Host` names this server (DNS rebinding); `allowed` is set
 * once the server knows its port, and stays unset for a unix socket (no check there).
 */
const hostCheck = (allowed: HostsAllowed) =>
  HttpRouter.middleware(
    (httpEffect) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        allowed.socket ||
        (allowed.current !== undefined && hostAllowed(allowed.current, request.headers.host))
          ? httpEffect
          : Effect.succeed(
              errorResponse(
                new Forbidden({
                  message: `this server answers only to its own address, not to Host ${request.headers.host ?? "(none)"}`,
                }),
              ),
            ),
      ),
    { global: true },
  )

/** The UI's files at `/` and below; anything else not routed is the API's 404. */
const staticRoutes = (files: ReadonlyMap<string, StaticFile>) => {
  const answer = (path: string) => {
    const file = files.get(path === "/" ? "/index.html" : path)
    return file === undefined
      ? errorResponse(new NotFound({ message: "no such route" }))
      : HttpServerResponse.uint8Array(file.bytes, {
          contentType: file.contentType,
          headers: pageHeaders(path),
        })
  }
  return Layer.mergeAll(
    HttpRouter.add("GET", "/", Effect.succeed(answer("/"))),
    HttpRouter.add(
      "GET",
      "/*",
      Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
        answer(new URL(request.url, "http://x").pathname),
      ),
    ),
  )
}

/**
 * Starts the API server in the current scope (closing the scope stops it): the token is
 * read from `<dataDir>/rpc-token` or made there, then the server listens on
 * `listen` (TCP on 127.0.0.1 unless another host is given, or a unix socket made 0600).
 */
export const serve = (options: ServeOptions): Effect.Effect<Served, ServeError, Scope.Scope> =>
  Effect.gen(function* () {
    const { token, path: tokenFile } = yield* loadOrCreateToken(options.dataDir).pipe(
      Effect.mapError((e) => new ServeError({ message: `token file ${e.path}: ${e.message}` })),
    )
    const listen = options.listen

    const closing = yield* Deferred.make<void>()
    const codes = makeSignInCodes()
    const staticDir = options.staticDir
    const staticFiles =
      staticDir === undefined
        ? undefined
        : yield* Effect.tryPromise({
            try: () => loadStaticFiles(staticDir),
            catch: (e) => new ServeError({ message: `web files in ${staticDir}: ${String(e)}` }),
          })
    const hosts: HostsAllowed = { current: undefined, socket: "socket" in listen }
    const routes = Layer.mergeAll(
      HttpApiBuilder.layer(Api).pipe(
        Layer.provide(
          handlers({
            backend: options.backend,
            limits: { maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES },
            closing,
            signIn: { ...codes, token },
          }),
        ),
        Layer.provide([
          authLayer(token),
          decodingLayer(options.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES),
        ]),
      ),
      // The API's description needs the token too: every route but health does.
      docsLayer,
      docsGate(token, codes, () => errorResponse(unauthorized())),
      HttpRouter.add(
        "GET",
        "/openapi.json",
        withToken(token, HttpServerResponse.jsonUnsafe(openApiDocument())),
      ),
      staticFiles === undefined ? Layer.empty : staticRoutes(staticFiles),
      hostCheck(hosts),
      errorShape,
    )
    const waiting = new Set<Socket>()
    const listening = yield* listenHttp(routes, {
      listen,
      ...(options.logRequests === undefined ? {} : { logRequests: options.logRequests }),
      onServer: (server) => followConnectionsWithoutRequest(server, waiting),
    }).pipe(Effect.mapError((e) => new ServeError({ message: e.message })))
    // Runs before the server's own shutdown (finalizers run last-added first).
    yield* Effect.addFinalizer(() =>
      Effect.andThen(
        Deferred.succeed(closing, undefined),
        // Node's `close` ends idle keep-alive connections but waits for ones that never
        // sent a request (fetch opens a spare one when a request is aborted; browsers
        // preconnect): those would hold the shutdown until their client lets go.
        Effect.sync(() => {
          for (const connection of waiting) connection.destroy()
        }),
      ),
    )
    const served = { ...listening, token, tokenFile } satisfies Served
    if (served.address._tag === "Tcp") {
      const allowed = allowedHosts(served.address.host, served.address.port)
      if (allowed === undefined) hosts.socket = true
      else hosts.current = allowed
    }
    return served
  })
