// Routes that die: a stopped peer is PeerUnreachable (and fails fast afterwards), a route
// the network kills is renewed, and the new route is the one that works.
import { assert } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Scope, Stream } from "effect"
import {
  aliceAndBob,
  type ComplianceIt,
  echo,
  groupKey,
  node,
  type Suite,
  str,
  TunnelsNetwork,
  text,
} from "./support.ts"

export const routeTests = (
  it: ComplianceIt,
  { timeout, eventDeadline, unreachableDeadline, failFastDeadline }: Suite,
) => {
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
        const { key, alice, bob } = yield* aliceAndBob
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
}
