// The behaviour every Tunnels layer must show, as a test suite: the memory layer runs it
// in unit tests, the Veilid layer on a private testnet. Import from
// "@save-dweb/tunnels/compliance" (needs @effect/vitest).
import { createHash } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { Clock, Context, Data, Effect, Exit, Fiber, type Layer, Scope, Stream } from "effect"
import type { RouteId } from "./transport.ts"
import { requestHandler, type TunnelsShape } from "./tunnels.ts"

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

const text = (s: string) => new TextEncoder().encode(s)
const str = (b: Uint8Array) => new TextDecoder().decode(b)
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

/** Deterministic bytes (the handler and the test agree on them without sending them twice). */
const pattern = (size: number): Uint8Array => {
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
const chunked = (bytes: Uint8Array, size: number) =>
  Stream.fromIterable(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
      bytes.subarray(i * size, (i + 1) * size),
    ),
  )

const collect = <E>(stream: Stream.Stream<Uint8Array, E>) => Stream.mkUint8Array(stream)

class NotFound extends Data.TaggedError("NotFound")<{ readonly message: string }> {}

const BIG = 1536 * 1024 + 123

/** Defines the compliance tests for the layer behind `network`. */
export const tunnelsCompliance = (
  name: string,
  network: Layer.Layer<TunnelsNetwork, unknown>,
  options: ComplianceOptions = {},
) => {
  const timeout = options.timeout ?? 60_000
  const eventDeadline = options.eventDeadline ?? 60_000
  const unreachableDeadline = options.unreachableDeadline ?? 60_000
  const failFastDeadline = options.failFastDeadline ?? 1_000

  layer(network, { timeout: "600 seconds", excludeTestServices: true })(name, (it) => {
    const groupKey = SecretKey.generate
    const node = (n: ComplianceNode) =>
      Effect.gen(function* () {
        const network = yield* TunnelsNetwork
        return yield* network.node(n)
      })

    /** Bob serves `echo/1` (request/response) with `key`. */
    const echo = (tunnels: TunnelsShape, key: SecretKey) =>
      tunnels.serve(
        "echo/1",
        requestHandler((body) => Effect.succeed(text(`re: ${str(body)}`))),
        { keys: [key] },
      )

    it.effect(
      "a request gets its reply, small or empty",
      () =>
        Effect.gen(function* () {
          const key = yield* groupKey
          const [alice, bob] = yield* Effect.all([node("alice"), node("bob")], {
            concurrency: 2,
          })
          yield* echo(bob, key)
          const peer = yield* alice.connect((yield* bob.route).blob, key)
          assert.strictEqual(str(yield* peer.request("echo/1", text("hello"))), "re: hello")
          assert.strictEqual(str(yield* peer.request("echo/1", new Uint8Array(0))), "re: ")
        }),
      timeout,
    )

    it.effect(
      "a 1.5 MiB stream from the handler arrives ordered and complete",
      () =>
        Effect.gen(function* () {
          const key = yield* groupKey
          const [alice, bob] = yield* Effect.all([node("alice"), node("bob")], {
            concurrency: 2,
          })
          yield* bob.serve(
            "download/1",
            (call) =>
              Stream.unwrap(
                Effect.map(Stream.mkUint8Array(call.input), (req) =>
                  chunked(pattern(Number(str(req))), 7_777),
                ),
              ),
            { keys: [key] },
          )
          const peer = yield* alice.connect((yield* bob.route).blob, key)
          const got = yield* collect(peer.open("download/1", Stream.make(text(String(BIG)))))
          assert.strictEqual(got.length, BIG)
          assert.strictEqual(sha256(got), sha256(pattern(BIG)))
        }),
      timeout,
    )

    it.effect(
      "a 1.5 MiB stream to the handler arrives ordered and complete",
      () =>
        Effect.gen(function* () {
          const key = yield* groupKey
          const [alice, bob] = yield* Effect.all([node("alice"), node("bob")], {
            concurrency: 2,
          })
          yield* bob.serve(
            "upload/1",
            (call) =>
              Stream.fromEffect(
                Effect.map(Stream.mkUint8Array(call.input), (all) =>
                  text(`${all.length} ${sha256(all)}`),
                ),
              ),
            { keys: [key] },
          )
          const peer = yield* alice.connect((yield* bob.route).blob, key)
          const body = pattern(BIG)
          const got = yield* collect(peer.open("upload/1", chunked(body, 5_000)))
          assert.strictEqual(str(got), `${BIG} ${sha256(body)}`)
        }),
      timeout,
    )

    it.effect(
      "a caller without the group's key is refused with Unauthorized and the handler never runs",
      () =>
        Effect.gen(function* () {
          const key = yield* groupKey
          const strangerKey = yield* groupKey
          const [bob, carol] = yield* Effect.all([node("bob"), node("carol")], {
            concurrency: 2,
          })
          let runs = 0
          yield* bob.serve(
            "secret/1",
            requestHandler(() =>
              Effect.sync(() => {
                runs++
                return text("the secret")
              }),
            ),
            { keys: [key] },
          )
          const stranger = yield* carol.connect((yield* bob.route).blob, strangerKey)
          const refused = yield* Effect.flip(stranger.request("secret/1", text("let me in")))
          assert.strictEqual(refused._tag, "Unauthorized")
          const streamed = yield* Effect.flip(
            collect(stranger.open("secret/1", Stream.make(text("let me in")))),
          )
          assert.strictEqual(streamed._tag, "Unauthorized")
          // Not even whether the protocol exists leaks out.
          const probing = yield* Effect.flip(stranger.request("nothing-here/1", text("?")))
          assert.strictEqual(probing._tag, "Unauthorized")
          assert.strictEqual(runs, 0)
        }),
      timeout,
    )

    it.effect(
      "a member calling a protocol nobody serves gets UnknownProtocol",
      () =>
        Effect.gen(function* () {
          const key = yield* groupKey
          const [alice, bob] = yield* Effect.all([node("alice"), node("bob")], {
            concurrency: 2,
          })
          yield* echo(bob, key)
          const peer = yield* alice.connect((yield* bob.route).blob, key)
          const error = yield* Effect.flip(peer.request("nothing-here/1", text("?")))
          assert.strictEqual(error._tag, "UnknownProtocol")
        }),
      timeout,
    )

    it.effect(
      "a failing handler gives RemoteError and the node keeps serving",
      () =>
        Effect.gen(function* () {
          const key = yield* groupKey
          const [alice, bob] = yield* Effect.all([node("alice"), node("bob")], {
            concurrency: 2,
          })
          yield* echo(bob, key)
          yield* bob.serve(
            "typed/1",
            requestHandler(() => Effect.fail(new NotFound({ message: "no such blob" }))),
            { keys: [key] },
          )
          yield* bob.serve(
            "defect/1",
            requestHandler(() => Effect.die(new Error("handler bug"))),
            { keys: [key] },
          )
          yield* bob.serve(
            "throws/1",
            (): Stream.Stream<Uint8Array> => {
              throw new Error("thrown while making the stream")
            },
            { keys: [key] },
          )
          yield* bob.serve(
            "midway/1",
            () =>
              Stream.concat(
                chunked(pattern(100_000), 10_000),
                Stream.fail(new NotFound({ message: "ran out" })),
              ),
            { keys: [key] },
          )
          const peer = yield* alice.connect((yield* bob.route).blob, key)

          const typed = yield* Effect.flip(peer.request("typed/1", text("x")))
          assert.deepInclude(typed, {
            _tag: "RemoteError",
            tag: "NotFound",
            message: "no such blob",
          })
          const defect = yield* Effect.flip(peer.request("defect/1", text("x")))
          assert.deepInclude(defect, { _tag: "RemoteError", tag: "Defect", message: "handler bug" })
          const thrown = yield* Effect.flip(peer.request("throws/1", text("x")))
          assert.deepInclude(thrown, { _tag: "RemoteError", tag: "Defect" })

          // The bytes before the failure arrive, in order, then the error.
          let received = 0
          const midway = yield* peer.open("midway/1", Stream.make(text("x"))).pipe(
            Stream.runForEach((chunk) => Effect.sync(() => (received += chunk.length))),
            Effect.flip,
          )
          assert.deepInclude(midway, { _tag: "RemoteError", tag: "NotFound", message: "ran out" })
          assert.strictEqual(received, 100_000)

          assert.strictEqual(
            str(yield* peer.request("echo/1", text("still here"))),
            "re: still here",
          )
        }),
      timeout,
    )

    it.effect(
      "concurrent calls each get their own reply",
      () =>
        Effect.gen(function* () {
          const key = yield* groupKey
          const [alice, bob] = yield* Effect.all([node("alice"), node("bob")], {
            concurrency: 2,
          })
          yield* echo(bob, key)
          const peer = yield* alice.connect((yield* bob.route).blob, key)
          const replies = yield* Effect.forEach(
            Array.from({ length: 12 }, (_, i) => i),
            (i) => Effect.map(peer.request("echo/1", text(`n${i}`)), str),
            { concurrency: "unbounded" },
          )
          assert.deepStrictEqual(
            replies,
            Array.from({ length: 12 }, (_, i) => `re: n${i}`),
          )
        }),
      timeout,
    )

    it.effect(
      "a stopped peer is PeerUnreachable, later calls fail fast, and its new route works",
      () =>
        Effect.gen(function* () {
          const key = yield* groupKey
          const alice = yield* node("alice")
          const bobScope = yield* Scope.make()
          const bob = yield* node("bob").pipe(Scope.provide(bobScope))
          yield* echo(bob, key).pipe(Scope.provide(bobScope))
          const peer = yield* alice.connect((yield* bob.route).blob, key)
          assert.strictEqual(str(yield* peer.request("echo/1", text("1"))), "re: 1")

          yield* Scope.close(bobScope, Exit.void)
          const dead = yield* Effect.flip(peer.request("echo/1", text("2"))).pipe(
            Effect.timeout(unreachableDeadline),
          )
          assert.strictEqual(dead._tag, "PeerUnreachable")

          const before = yield* Clock.currentTimeMillis
          const again = yield* Effect.flip(peer.request("echo/1", text("3")))
          const took = (yield* Clock.currentTimeMillis) - before
          assert.strictEqual(again._tag, "PeerUnreachable")
          assert.isBelow(took, failFastDeadline, "a dead peer must fail fast")

          const bobAgain = yield* node("bob")
          yield* echo(bobAgain, key)
          const revived = yield* alice.connect((yield* bobAgain.route).blob, key)
          assert.strictEqual(str(yield* revived.request("echo/1", text("4"))), "re: 4")
        }),
      timeout,
    )

    it.effect(
      "renews its route when the network reports it dead, and the new blob is the one that works",
      () =>
        Effect.gen(function* () {
          const key = yield* groupKey
          const [alice, bob] = yield* Effect.all([node("alice"), node("bob")], {
            concurrency: 2,
          })
          yield* echo(bob, key)
          const old = yield* bob.route
          const renewed = yield* bob.routeChanges.pipe(
            Stream.filter((r) => r.routeId !== old.routeId),
            Stream.runHead,
            Effect.forkScoped,
          )
          const tunnels = yield* TunnelsNetwork
          yield* tunnels.killRoute("bob", old.routeId)
          const next = yield* Fiber.join(renewed).pipe(Effect.timeout(eventDeadline))
          assert.isTrue(next._tag === "Some")
          if (next._tag !== "Some") return
          assert.notStrictEqual(next.value.routeId, old.routeId)
          assert.strictEqual((yield* bob.route).routeId, next.value.routeId)
          const peer = yield* alice.connect(next.value.blob, key)
          assert.strictEqual(str(yield* peer.request("echo/1", text("new"))), "re: new")
        }),
      timeout,
    )
  })
}
