import type { SecretKey } from "@save-dweb/crypto"
import { Veilid } from "@save-dweb/veilid"
import {
  Clock,
  Context,
  Effect,
  FiberSet,
  Layer,
  Schedule,
  type Scope,
  Semaphore,
  Stream,
  SubscriptionRef,
} from "effect"
import { type CallerContext, type CallOptions, openCall } from "./caller.ts"
import {
  type CallError,
  InvalidProtocolName,
  type InvalidRouteBlob,
  ProtocolInUse,
  RequestTooLarge,
  ResponseTooLarge,
  RouteUnavailable,
} from "./errors.ts"
import { isProtocolName } from "./frame.ts"
import { joinBytes } from "./framer.ts"
import { type IncomingCall, makeHandlerSide, type Registered } from "./handler-side.ts"
import { MemoryNetwork } from "./memory-network.ts"
import { resolveOptions, type TunnelsOptions } from "./options.ts"
import type { OwnRoute, RouteId, Transport } from "./transport.ts"
import { veilidTransport } from "./transport-veilid.ts"

/** A peer's imported route, called with the key its handlers accept. */
export interface Peer {
  readonly routeId: RouteId
  /** Request/response. Body and reply may be of any size (large ones travel in frames). */
  readonly request: (
    protocol: string,
    body: Uint8Array,
    options?: CallOptions & { readonly maxResponseBytes?: number },
  ) => Effect.Effect<Uint8Array, CallError | ResponseTooLarge>
  /**
   * A byte stream each way: `input` flows to the handler while its output flows back.
   * Ordered and complete, or a typed error. Interrupting the stream cancels the call.
   */
  readonly open: <E = never, R = never>(
    protocol: string,
    input: Stream.Stream<Uint8Array, E, R>,
    options?: CallOptions,
  ) => Stream.Stream<Uint8Array, CallError | E, R>
}

/** Serves one protocol: gets the caller's input stream, returns its output stream. */
export type Handler<E = never, R = never> = (call: IncomingCall) => Stream.Stream<Uint8Array, E, R>

export interface ServeOptions {
  /** Keys a caller may prove (e.g. the group's `deriveKey(secret, KeyName.tunnelAuth)`). */
  readonly keys: ReadonlyArray<SecretKey>
}

export interface TunnelsShape {
  /** Our current private route; publish `blob` for peers. */
  readonly route: Effect.Effect<OwnRoute>
  /** The current route, then every route that replaces it (after Veilid reports it dead). */
  readonly routeChanges: Stream.Stream<OwnRoute>
  /** Replaces our route now; calls in flight on the old one fail. */
  readonly renewRoute: Effect.Effect<OwnRoute, RouteUnavailable>
  /** Imports a peer's route blob. Cheap; a new blob of a dead peer makes it callable again. */
  readonly connect: (blob: Uint8Array, key: SecretKey) => Effect.Effect<Peer, InvalidRouteBlob>
  /** Serves `protocol` until the scope closes. Only callers proving one of `keys` get in. */
  readonly serve: <E, R>(
    protocol: string,
    handler: Handler<E, R>,
    options: ServeOptions,
  ) => Effect.Effect<void, ProtocolInUse | InvalidProtocolName, R | Scope.Scope>
}

const MAX_DEAD_ROUTES = 4096

/** The tunnel engine over any transport (Veilid or the memory network). */
export const makeTunnelsWith = Effect.fnUntraced(function* (
  transport: Transport,
  tunnelsOptions?: TunnelsOptions,
) {
  const options = resolveOptions(tunnelsOptions)
  const handlers = new Map<string, Registered>()
  const background = yield* FiberSet.make<unknown, unknown>()

  // ---- Dead peers: calls fail fast until a new route is imported or the dead time passes.
  const deadUntil = new Map<RouteId, number>()
  const markDead = (routeId: RouteId) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      deadUntil.delete(routeId)
      deadUntil.set(routeId, now + options.deadPeerTtlMillis)
      const oldest = deadUntil.keys().next()
      if (deadUntil.size > MAX_DEAD_ROUTES && !oldest.done) deadUntil.delete(oldest.value)
    })
  const isDead = (routeId: RouteId) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const until = deadUntil.get(routeId)
      if (until === undefined) return false
      if (until > now) return true
      deadUntil.delete(routeId)
      return false
    })

  // ---- Our route.
  const allocate = Effect.gen(function* () {
    const deadline = (yield* Clock.currentTimeMillis) + options.routeTimeoutMillis
    for (let attempt = 1; ; attempt++) {
      const result = yield* Effect.result(transport.allocateRoute)
      if (result._tag === "Success") return result.success
      if ((yield* Clock.currentTimeMillis) >= deadline) {
        return yield* new RouteUnavailable({
          message: `no private route within ${options.routeTimeoutMillis} ms: ${result.failure.message}`,
          cause: result.failure,
        })
      }
      yield* Effect.sleep(Math.min(5_000, 200 * 2 ** (attempt - 1)))
    }
  })

  const first = yield* allocate
  const own = new Set<RouteId>([first.routeId])
  const current = yield* SubscriptionRef.make(first)
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      const routes = [...own]
      own.clear()
      return Effect.forEach(routes, transport.releaseRoute, { discard: true })
    }),
  )

  const renewing = Semaphore.makeUnsafe(1)
  /** Replaces the current route (only if it is still `expected`, when given). */
  const replaceRoute = (expected: RouteId | undefined) =>
    renewing.withPermit(
      Effect.gen(function* () {
        const old = yield* SubscriptionRef.get(current)
        if (expected !== undefined && old.routeId !== expected) return old
        const next = yield* allocate
        own.add(next.routeId)
        yield* SubscriptionRef.set(current, next)
        own.delete(old.routeId)
        yield* transport.releaseRoute(old.routeId)
        return next
      }),
    )

  // ---- Serving.
  const handlerSide = yield* makeHandlerSide(options, handlers)
  yield* transport.listen({
    onCall: (routeId, message) =>
      routeId !== undefined && own.has(routeId)
        ? handlerSide.onCall(routeId, message)
        : Effect.succeed(undefined),
    onMessage: (routeId, message) =>
      routeId !== undefined && own.has(routeId)
        ? handlerSide.onMessage(routeId, message)
        : Effect.void,
    onRouteChange: (change) =>
      Effect.gen(function* () {
        for (const routeId of change.deadRemoteRoutes) yield* markDead(routeId)
        const { routeId } = yield* SubscriptionRef.get(current)
        if (!change.deadRoutes.includes(routeId)) return
        yield* Effect.logInfo(`tunnels: route ${routeId} died; allocating a new one`)
        yield* FiberSet.run(
          background,
          replaceRoute(routeId).pipe(
            Effect.tapError((e) => Effect.logWarning(`tunnels: ${e.message}; trying again`)),
            Effect.retry(Schedule.spaced("5 seconds")),
          ),
        )
      }),
  })

  const callerContext: CallerContext = { transport, options, isDead, markDead, background }

  const connect = Effect.fn("Tunnels.connect")(function* (blob: Uint8Array, key: SecretKey) {
    const routeId = yield* transport.importRoute(blob)
    const target = { routeId, key }
    const peer: Peer = {
      routeId,
      request: Effect.fn("Tunnels.request")(function* (
        protocol: string,
        body: Uint8Array,
        callOptions?: CallOptions & { readonly maxResponseBytes?: number },
      ) {
        const limit = callOptions?.maxResponseBytes ?? options.maxResponseBytes
        const parts: Array<Uint8Array> = []
        let size = 0
        yield* openCall<never, never>(
          callerContext,
          target,
          protocol,
          { _tag: "Bytes", bytes: body },
          callOptions,
        ).pipe(
          Stream.runForEach((chunk) => {
            size += chunk.length
            if (size > limit) {
              return Effect.fail(
                new ResponseTooLarge({
                  protocol,
                  limit,
                  message: `the reply to ${protocol} exceeds ${limit} bytes`,
                }),
              )
            }
            parts.push(chunk)
            return Effect.void
          }),
        )
        return joinBytes(parts, size)
      }),
      open: (protocol, input, callOptions) =>
        openCall(callerContext, target, protocol, { _tag: "Stream", stream: input }, callOptions),
    }
    return peer
  })

  const serve = <E, R>(protocol: string, handler: Handler<E, R>, serveOptions: ServeOptions) =>
    Effect.gen(function* () {
      if (!isProtocolName(protocol)) {
        return yield* new InvalidProtocolName({
          protocol,
          message: "a protocol name is 1 to 64 printable ASCII characters without spaces",
        })
      }
      if (handlers.has(protocol)) {
        return yield* new ProtocolInUse({ protocol, message: `${protocol} is already served here` })
      }
      const context = yield* Effect.context<R>()
      const registered: Registered = {
        keys: [...serveOptions.keys],
        run: (call) => Stream.provideContext(handler(call), context),
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => handlers.set(protocol, registered)),
        () =>
          Effect.sync(() => {
            if (handlers.get(protocol) === registered) handlers.delete(protocol)
          }),
      )
    }).pipe(Effect.withSpan("Tunnels.serve"))

  const shape: TunnelsShape = {
    route: SubscriptionRef.get(current),
    routeChanges: SubscriptionRef.changes(current),
    renewRoute: replaceRoute(undefined).pipe(Effect.withSpan("Tunnels.renewRoute")),
    connect,
    serve,
  }
  return shape
})

/** Tunnels over this process's Veilid node. */
export const makeTunnels = (
  options?: TunnelsOptions,
): Effect.Effect<TunnelsShape, RouteUnavailable, Veilid | Scope.Scope> =>
  Effect.gen(function* () {
    const veilid = yield* Veilid
    return yield* makeTunnelsWith(veilidTransport(veilid), options)
  })

/** Tunnels on one more node of the in-process memory network (tests of upper layers only). */
export const makeTunnelsMemory = (
  options?: TunnelsOptions,
): Effect.Effect<TunnelsShape, RouteUnavailable, MemoryNetwork | Scope.Scope> =>
  Effect.gen(function* () {
    const network = yield* MemoryNetwork
    const transport = yield* network.node
    return yield* makeTunnelsWith(transport, options)
  })

/**
 * Private tunnels between peers: our own route (renewed when it dies), authenticated calls
 * by protocol name, request/response and windowed byte streams over app_call frames.
 */
export class Tunnels extends Context.Service<Tunnels, TunnelsShape>()(
  "@save-dweb/tunnels/Tunnels",
) {
  /** Over the `Veilid` node. */
  static readonly layer = (
    options?: TunnelsOptions,
  ): Layer.Layer<Tunnels, RouteUnavailable, Veilid> => Layer.effect(Tunnels, makeTunnels(options))
  /** One node of the in-process `MemoryNetwork`, same semantics; for unit tests. */
  static readonly layerMemory = (
    options?: TunnelsOptions,
  ): Layer.Layer<Tunnels, RouteUnavailable, MemoryNetwork> =>
    Layer.effect(Tunnels, makeTunnelsMemory(options))
}

/** A handler for request/response protocols: collects the request, answers one reply. */
export const requestHandler =
  <E, R>(
    f: (body: Uint8Array, call: IncomingCall) => Effect.Effect<Uint8Array, E, R>,
    options: { readonly maxRequestBytes?: number } = {},
  ): Handler<E | RequestTooLarge, R> =>
  (call) =>
    Stream.fromEffect(
      Effect.gen(function* () {
        const limit = options.maxRequestBytes ?? 16 * 1024 * 1024
        const parts: Array<Uint8Array> = []
        let size = 0
        yield* Stream.runForEach(call.input, (chunk) => {
          size += chunk.length
          if (size > limit) {
            return Effect.fail(
              new RequestTooLarge({ limit, message: `the request exceeds ${limit} bytes` }),
            )
          }
          parts.push(chunk)
          return Effect.void
        })
        return yield* f(joinBytes(parts, size), call)
      }),
    )
