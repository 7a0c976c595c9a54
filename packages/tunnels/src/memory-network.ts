// An in-process stand-in for Veilid's private routes, for unit tests of the layers above.
// It carries the same frames through the same engine as the real layer, enforces the same
// 32,768-byte limit on requests and replies, answers calls to dead routes with a timeout
// (from the third call on with "unreachable", as veilid-core 0.5.8 gives up on the route),
// reports our own dead routes as a RouteChange, and runs a handler's work on the handler's
// node (a caller that gives up does not interrupt it), as Veilid does.
import { randomBytes } from "node:crypto"
import { Context, Duration, Effect, Exit, Fiber, FiberSet, Layer, Scope } from "effect"
import { InvalidRouteBlob } from "./errors.ts"
import { MAX_FRAME_BYTES } from "./frame.ts"
import {
  type Inbound,
  type OwnRoute,
  type RouteId,
  type Transport,
  TransportError,
} from "./transport.ts"

export interface MemoryNetworkOptions {
  /** Delay before each call or message is delivered (default none). */
  readonly latency?: Duration.Input
  /**
   * Loses a request or a reply: the call then fails with a timeout, as a lost Veilid
   * message does. `index` counts calls across the network from 0. For tests of retries.
   */
  readonly drop?: (event: {
    readonly index: number
    readonly direction: "request" | "reply"
    readonly message: Uint8Array
  }) => boolean
  /**
   * How long a call whose request or reply was lost waits before it fails (default: it fails
   * at once). Veilid waits for its RPC timeout, 5 s.
   */
  readonly lossTimeout?: Duration.Input
  /** Sees every call and message (a wiretap for tests, e.g. to replay a captured frame). */
  readonly observe?: (event: {
    readonly target: RouteId
    readonly kind: "call" | "message"
    readonly message: Uint8Array
  }) => void
}

export interface MemoryNetworkStats {
  readonly calls: number
  readonly messages: number
  readonly dropped: number
  readonly largestRequest: number
  readonly largestReply: number
}

export interface MemoryNetworkShape {
  /** The transport of one more node; its routes are released when the scope closes. */
  readonly node: Effect.Effect<Transport, never, Scope.Scope>
  /**
   * Kills a route as if its hops had died: calls to it time out, and its owner hears a
   * RouteChange with it in `deadRoutes` (what Veilid reports).
   */
  readonly killRoute: (routeId: RouteId) => Effect.Effect<void>
  readonly stats: Effect.Effect<MemoryNetworkStats>
}

/** The shared in-process network that `Tunnels.layerMemory` nodes talk over. */
export class MemoryNetwork extends Context.Service<MemoryNetwork, MemoryNetworkShape>()(
  "@save-dweb/tunnels/MemoryNetwork",
) {
  static readonly layer = (options?: MemoryNetworkOptions): Layer.Layer<MemoryNetwork> =>
    Layer.sync(MemoryNetwork, () => makeMemoryNetwork(options))
}

const BLOB_PREFIX = "sdw-memory-route:"
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

interface Node {
  inbound: Inbound | undefined
  readonly fibers: FiberSet.FiberSet<unknown, unknown>
  readonly owned: Set<RouteId>
  /** Calls this node made to each dead route. */
  readonly misses: Map<RouteId, number>
}

const timeout = (what: string) =>
  new TransportError({ kind: "Timeout", message: `memory network: ${what}` })

export const makeMemoryNetwork = (options: MemoryNetworkOptions = {}): MemoryNetworkShape => {
  const routes = new Map<RouteId, Node>()
  const latency =
    options.latency === undefined ? undefined : Duration.fromInputUnsafe(options.latency)
  const stats = { calls: 0, messages: 0, dropped: 0, largestRequest: 0, largestReply: 0 }

  const delay = latency === undefined ? Effect.void : Effect.sleep(latency)
  const failLate = (what: string) =>
    Effect.andThen(
      options.lossTimeout === undefined ? Effect.void : Effect.sleep(options.lossTimeout),
      Effect.fail(timeout(what)),
    )
  const dropped = (index: number, direction: "request" | "reply", message: Uint8Array) => {
    const lost = options.drop?.({ index, direction, message }) ?? false
    if (lost) stats.dropped++
    return lost
  }

  /** Runs `effect` on the receiving node, so that a caller giving up does not interrupt it. */
  const onNode = <A>(node: Node, effect: Effect.Effect<A>) =>
    FiberSet.run(node.fibers, effect).pipe(
      Effect.flatMap((fiber) => Fiber.await(fiber as Fiber.Fiber<A>)),
      Effect.flatMap((exit) =>
        Exit.isSuccess(exit)
          ? Effect.succeed(exit.value)
          : Effect.fail(timeout("the node stopped")),
      ),
    )

  const reportDead = (node: Node, routeId: RouteId) =>
    node.inbound === undefined
      ? Effect.void
      : FiberSet.run(
          node.fibers,
          node.inbound.onRouteChange({ deadRoutes: [routeId], deadRemoteRoutes: [] }),
        ).pipe(Effect.asVoid)

  const dropRoute = (routeId: RouteId) =>
    Effect.suspend(() => {
      const node = routes.get(routeId)
      if (node === undefined) return Effect.void
      routes.delete(routeId)
      node.owned.delete(routeId)
      return reportDead(node, routeId)
    })

  const makeNode = Effect.gen(function* () {
    const scope = yield* Effect.scope
    const fibers = yield* FiberSet.make<unknown, unknown>()
    const node: Node = { inbound: undefined, fibers, owned: new Set(), misses: new Map() }
    yield* Scope.addFinalizer(
      scope,
      Effect.sync(() => {
        node.inbound = undefined
        for (const routeId of node.owned) routes.delete(routeId)
        node.owned.clear()
      }),
    )

    const transport: Transport = {
      allocateRoute: Effect.sync((): OwnRoute => {
        const routeId = `MEM0:${randomBytes(32).toString("base64url")}`
        routes.set(routeId, node)
        node.owned.add(routeId)
        return { routeId, blob: utf8.encode(BLOB_PREFIX + routeId) }
      }),
      // Veilid reports an app-allocated route it released as dead on its next tick.
      releaseRoute: (routeId) => (node.owned.has(routeId) ? dropRoute(routeId) : Effect.void),
      importRoute: (blob) =>
        Effect.suspend(() => {
          const text = utf8Decoder.decode(blob)
          if (!text.startsWith(BLOB_PREFIX) || text.length === BLOB_PREFIX.length) {
            return Effect.fail(new InvalidRouteBlob({ message: "not a memory network route blob" }))
          }
          const routeId = text.slice(BLOB_PREFIX.length)
          node.misses.delete(routeId)
          return Effect.succeed(routeId)
        }),
      call: (target, message) =>
        Effect.gen(function* () {
          const index = stats.calls++
          stats.largestRequest = Math.max(stats.largestRequest, message.length)
          options.observe?.({ target, kind: "call", message: message.slice() })
          if (message.length > MAX_FRAME_BYTES) {
            return yield* new TransportError({
              kind: "Rejected",
              message: `app_call request of ${message.length} bytes exceeds ${MAX_FRAME_BYTES}`,
            })
          }
          yield* delay
          if (dropped(index, "request", message)) return yield* failLate("request lost")
          const receiver = routes.get(target)
          const inbound = receiver?.inbound
          if (receiver === undefined || inbound === undefined) {
            // Like veilid-core 0.5.8: two timeouts, then the imported route is given up.
            const misses = (node.misses.get(target) ?? 0) + 1
            node.misses.set(target, misses)
            if (misses > 2) {
              return yield* new TransportError({
                kind: "Unreachable",
                message: "memory network: could not get remote private route",
              })
            }
            return yield* timeout("no answer from a dead route")
          }
          const reply = yield* onNode(receiver, inbound.onCall(target, message.slice()))
          if (reply === undefined) return yield* timeout("the call was not answered")
          stats.largestReply = Math.max(stats.largestReply, reply.length)
          if (reply.length > MAX_FRAME_BYTES) {
            // veilid-core refuses such a reply on the handler's side; the caller times out.
            return yield* new TransportError({
              kind: "Rejected",
              message: `app_call reply of ${reply.length} bytes exceeds ${MAX_FRAME_BYTES}`,
            })
          }
          yield* delay
          if (dropped(index, "reply", reply)) return yield* failLate("reply lost")
          return reply.slice()
        }),
      send: (target, message) =>
        Effect.gen(function* () {
          stats.messages++
          options.observe?.({ target, kind: "message", message: message.slice() })
          if (message.length > MAX_FRAME_BYTES) {
            return yield* new TransportError({
              kind: "Rejected",
              message: `app_message of ${message.length} bytes exceeds ${MAX_FRAME_BYTES}`,
            })
          }
          const receiver = routes.get(target)
          const inbound = receiver?.inbound
          if (receiver === undefined || inbound === undefined) return
          yield* FiberSet.run(
            receiver.fibers,
            Effect.andThen(delay, inbound.onMessage(target, message.slice())),
          )
        }),
      listen: (inbound) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            node.inbound = inbound
          }),
          () =>
            Effect.sync(() => {
              node.inbound = undefined
            }),
        ),
    }
    return transport
  })

  return {
    node: makeNode,
    killRoute: dropRoute,
    stats: Effect.sync(() => ({ ...stats })),
  }
}
