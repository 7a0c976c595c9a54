// A file's copies off this device, the group's target and its event; on memory networks.
import { assert, describe, it } from "@effect/vitest"
import { formatLink } from "@save-dweb/uri-scheme"
import { Effect, Stream } from "effect"
import type { BackendEvent, BackendShape } from "../src/index.ts"
import { memoryBackend, memoryNode, networks, pattern } from "./support.ts"

const copiesOf = (backend: BackendShape, group: string, name: string) =>
  Effect.map(backend.fileCopies(group, "mine", name), (c) =>
    c.copies.map((copy) => [copy.name, copy.status, copy.how]),
  )

describe("copies off this device", () => {
  it.live(
    "a member's copy is listed by name once it holds it, dropped after it unpins, and reaching the target is told as an event",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const alice = yield* memoryBackend(nets, yield* memoryNode(nets), {
          copiesCheckEvery: "50 millis",
        })
        const bob = yield* memoryBackend(nets, yield* memoryNode(nets))
        const ga = yield* alice.createGroup("Footage", { memberName: "Alice" })
        yield* bob.joinGroup(formatLink(yield* ga.group.invite("write")), { memberName: "Bob" })
        const events = yield* alice.subscribe
        yield* alice.writeFile(ga.key, "clip.mp4", Stream.make(pattern(120_000, 2)))
        yield* alice.setCopiesTarget(ga.key, 1)
        assert.strictEqual(yield* alice.copiesTarget(ga.key), 1)

        const before = yield* alice.fileCopies(ga.key, "mine", "clip.mp4")
        assert.deepStrictEqual(before.copies, [])
        assert.strictEqual(before.reached, false)
        assert.deepStrictEqual(yield* alice.copiesSummary(ga.key), {
          group: ga.key,
          atLeast: 1,
          files: 1,
          safe: 0,
          unknown: 0,
        })

        const mine = ga.repo
        if (mine._tag === "None") return assert.fail("no own repo")
        yield* bob.pin(ga.key, mine.value.key, "clip.mp4")
        // The background check finds Bob's copy and tells it once.
        const reached = yield* events.pipe(
          Stream.filter(
            (e): e is Extract<BackendEvent, { _tag: "CopiesReached" }> =>
              e._tag === "CopiesReached",
          ),
          Stream.runHead,
          Effect.timeout("10 seconds"),
        )
        assert.deepStrictEqual(reached._tag === "Some" ? reached.value : undefined, {
          _tag: "CopiesReached",
          group: ga.key,
          repo: mine.value.key,
          name: "clip.mp4",
          copies: 1,
          target: 1,
        })
        const after = yield* alice.fileCopies(ga.key, "mine", "clip.mp4")
        assert.deepStrictEqual(yield* copiesOf(alice, ga.key, "clip.mp4"), [
          ["Bob", "verified", "proof"],
        ])
        assert.strictEqual(after.reached, true)
        assert.isNumber(after.copies[0]?.since)
        assert.strictEqual((yield* alice.copiesSummary(ga.key)).safe, 1)

        yield* bob.unpin(ga.key, mine.value.key, "clip.mp4")
        assert.deepStrictEqual(yield* copiesOf(alice, ga.key, "clip.mp4"), [])
        yield* alice.setCopiesTarget(ga.key, undefined)
        assert.strictEqual(yield* alice.copiesTarget(ga.key), undefined)
      }).pipe(Effect.scoped),
  )
})
