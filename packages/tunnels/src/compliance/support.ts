// What the compliance topics share: the network of named nodes a layer's test provides,
// the suite's limits, and the bytes, keys and echo service the tests call with.
import { createHash } from "node:crypto"
import type { Vitest } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { Context, Data, Effect, type Scope, Stream } from "effect"
import type { RouteId } from "../transport.ts"
import { requestHandler, type TunnelsShape } from "../tunnels.ts"

export type ComplianceNode = "alice" | "bob" | "carol"

export interface TunnelsNetworkShape {
  /**
   * A new Tunnels instance on the named network node (its own route), stopped when the
   * scope closes: route released, handlers gone.
   */
  readonly node: (name: ComplianceNode) => Effect.Effect<TunnelsShape, unknown, Scope.Scope>
  /**
   * Kills a route underneath the node that owns it, the way the network can: the node
   * must learn it from the network (Veilid: a RouteChange update) and renew by itself.
   */
  readonly killRoute: (name: ComplianceNode, routeId: RouteId) => Effect.Effect<void, unknown>
}

/** What a layer's test provides to the compliance suite. */
export class TunnelsNetwork extends Context.Service<TunnelsNetwork, TunnelsNetworkShape>()(
  "@save-dweb/tunnels/compliance/TunnelsNetwork",
) {}

export interface ComplianceOptions {
  /** Per-test timeout (default 60 s; a real network needs more). */
  readonly timeout?: number
  /** Deadline for waiting on network events such as route renewal (default 60 s). */
  readonly eventDeadline?: number
  /** A call to a dead peer must fail with PeerUnreachable within this (default 60 s). */
  readonly unreachableDeadline?: number
  /** Once marked dead, a call must fail within this (default 1 s). */
  readonly failFastDeadline?: number
}

/** The suite's limits, defaults filled in. */
export const makeSuite = (options: ComplianceOptions) => ({
  timeout: options.timeout ?? 60_000,
  eventDeadline: options.eventDeadline ?? 60_000,
  unreachableDeadline: options.unreachableDeadline ?? 60_000,
  failFastDeadline: options.failFastDeadline ?? 1_000,
})

export type Suite = ReturnType<typeof makeSuite>

/** The `it` of the suite's layer: every test reads the network from it. */
export type ComplianceIt = Vitest.MethodsNonLive<TunnelsNetwork>

export const text = (s: string) => new TextEncoder().encode(s)
export const str = (b: Uint8Array) => new TextDecoder().decode(b)
export const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

/** Deterministic bytes (the handler and the test agree on them without sending them twice). */
export const pattern = (size: number): Uint8Array => {
  const out = new Uint8Array(size)
  let x = 0x9e3779b9
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** `bytes` in chunks of an awkward size, so frames never line up with chunks. */
export const chunked = (bytes: Uint8Array, size: number) =>
  Stream.fromIterable(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
      bytes.subarray(i * size, (i + 1) * size),
    ),
  )

export const collect = <E>(stream: Stream.Stream<Uint8Array, E>) => Stream.mkUint8Array(stream)

export class NotFound extends Data.TaggedError("NotFound")<{ readonly message: string }> {}

export const BIG = 1536 * 1024 + 123

export const groupKey = SecretKey.generate

/** A new Tunnels instance on the named node of the suite's network. */
export const node = (name: ComplianceNode) =>
  Effect.gen(function* () {
    const network = yield* TunnelsNetwork
    return yield* network.node(name)
  })

/** A new group key, and alice and bob started side by side. */
export const aliceAndBob = Effect.gen(function* () {
  const key = yield* groupKey
  const [alice, bob] = yield* Effect.all([node("alice"), node("bob")], { concurrency: 2 })
  return { key, alice, bob }
})

/** Bob serves `echo/1` (request/response) with `key`. */
export const echo = (tunnels: TunnelsShape, key: SecretKey) =>
  tunnels.serve(
    "echo/1",
    requestHandler((body) => Effect.succeed(text(`re: ${str(body)}`))),
    { keys: [key] },
  )
