// The group transport setting through the backend: private by default, direct on request,
// changed by the manager only.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { failureOf, memoryBackend, memoryNode, networks } from "./support.ts"

describe("group transport", () => {
  it.effect("a new group is private; its manager makes it direct; a member cannot", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const alice = yield* memoryBackend(nets, yield* memoryNode(nets))
      const bob = yield* memoryBackend(nets, yield* memoryNode(nets))
      const quiet = yield* alice.createGroup("Quiet", { memberName: "Alice" })
      assert.strictEqual((yield* quiet.group.info).transport, "private")
      const fast = yield* alice.createGroup("Fast", { memberName: "Alice", transport: "direct" })
      assert.strictEqual((yield* fast.group.info).transport, "direct")

      yield* alice.setTransport(quiet.key, "direct")
      assert.strictEqual((yield* quiet.group.info).transport, "direct")
      const joined = yield* bob.joinGroup(yield* alice.invite(quiet.key, "write"), {
        memberName: "Bob",
      })
      assert.strictEqual((yield* joined.group.info).transport, "direct")
      assert.deepInclude(yield* failureOf(bob.setTransport(quiet.key, "private")), {
        _tag: "InsufficientCapability",
        required: "manage",
      })
      yield* alice.setTransport(quiet.key, "private")
      assert.strictEqual((yield* joined.group.info).transport, "private")
    }).pipe(Effect.scoped),
  )
})
