// Groups on a private Veilid testnet (tooling/veilid-testnet): eight bootstrap nodes
// plus three nodes of ours, one per person. Run inside `veilid-testnet exec` (the
// package's `test` script does). Every wait has a deadline; nothing sleeps.
import { assert, layer } from "@effect/vitest"
import { makeDhtRecords } from "@save-dweb/dht-records"
import { deadline, eventually } from "@save-dweb/test-support"
import { formatLink } from "@save-dweb/uri-scheme"
import { decodeConfig, makeVeilid } from "@save-dweb/veilid"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Context, Effect, Layer, Option } from "effect"
import { type Group, type GroupsShape, type Membership, makeGroups } from "../src/index.ts"
import { collect, failureOf, next } from "./support.ts"

interface People {
  readonly alice: GroupsShape
  readonly bob: GroupsShape
  readonly carol: GroupsShape
}

class Nodes extends Context.Service<Nodes, People>()("@save-dweb/group/test/Nodes") {}

const NodesLive = Layer.effect(
  Nodes,
  Effect.gen(function* () {
    const testnet = yield* withTestnet()
    const node = (name: string) =>
      Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
        makeVeilid(config, { readyTimeout: "90 seconds" }),
      )
    const [a, b, c] = yield* Effect.all([node("alice"), node("bob"), node("carol")], {
      concurrency: 3,
    })
    return {
      alice: makeGroups(yield* makeDhtRecords(a)),
      bob: makeGroups(yield* makeDhtRecords(b)),
      carol: makeGroups(yield* makeDhtRecords(c)),
    }
  }),
)

const timeout = 180_000

const names = (members: ReadonlyArray<{ readonly name: string | undefined }>) =>
  members.map((m) => m.name).join(",")

layer(NodesLive, { excludeTestServices: true, timeout: 300_000 })(
  "groups on a private Veilid testnet",
  (it) => {
    it.effect(
      "create on one node, join by link on another, both list the same members",
      () =>
        Effect.gen(function* () {
          const { alice, bob } = yield* Nodes
          const group = yield* alice.create("Field notes", { memberName: "Alice" })
          const link = formatLink(yield* group.invite("write"))
          const b: Group = yield* eventually("bob joins", bob.join(link, { memberName: "Bob" }))
          assert.strictEqual(b.slot, 1)
          assert.strictEqual((yield* b.info).name, "Field notes")
          yield* eventually("alice sees bob", group.members, (m) => names(m) === "Alice,Bob")
          yield* eventually("bob sees both", b.members, (m) => names(m) === "Alice,Bob")
        }),
      timeout,
    )

    it.effect(
      "a watch on one node sees a join from another",
      () =>
        Effect.gen(function* () {
          const { alice, carol } = yield* Nodes
          const group = yield* alice.create("Watched", { memberName: "Alice" })
          const events = yield* collect(group.watchMembers())
          const first = yield* next(events, () => true, deadline)
          assert.strictEqual(names(first.members), "Alice")
          const link = formatLink(yield* group.invite("write"))
          yield* eventually("carol joins", carol.join(link, { memberName: "Carol" }))
          const joined = yield* next(
            events,
            (m: Membership) => m.changes.some((c) => c._tag === "Joined"),
            deadline,
          )
          assert.strictEqual(names(joined.members), "Alice,Carol")
        }),
      timeout,
    )

    it.effect(
      "after a revocation the other nodes ignore the slot, its holder cannot write, and a rotation leaves it out",
      () =>
        Effect.gen(function* () {
          const { alice, bob, carol } = yield* Nodes
          const group = yield* alice.create("Revocable", { memberName: "Alice" })
          const b = yield* eventually(
            "bob joins",
            bob.join(formatLink(yield* group.invite("write")), { memberName: "Bob" }),
          )
          const repo = "VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
          yield* b.setMyRepo(repo)
          const server = yield* eventually(
            "carol opens a replicate link",
            carol.join(formatLink(yield* group.invite("replicate"))),
          )
          yield* eventually("carol sees bob's repo", server.repos, (r) => r.length === 1)
          assert.strictEqual((yield* failureOf(server.fileKey))._tag, "InsufficientCapability")
          yield* group.revoke(b.slot as number)
          yield* eventually("carol drops bob's repo", server.repos, (r) => r.length === 0)
          yield* eventually("alice drops bob", group.members, (m) => names(m) === "Alice")
          // The manager rotates; Carol gets a write link, Bob (revoked) gets nothing.
          const c = yield* eventually(
            "carol joins",
            carol.join(formatLink(yield* group.invite("write")), { memberName: "Carol" }),
          )
          const rotation = yield* group.rotate
          const followed = yield* eventually("carol finds the rotation", c.followRotation, (o) =>
            Option.isSome(o),
          )
          const moved = yield* eventually(
            "carol joins the new group",
            carol.join(Option.getOrThrow(followed), { memberName: "Carol" }),
          )
          assert.strictEqual(moved.key, rotation.group.key)
          yield* eventually(
            "alice sees carol in the new group",
            rotation.group.members,
            (m) => names(m) === "Alice,Carol",
          )
          // Bob's own node may still hold the old roster for a moment.
          yield* eventually(
            "bob is refused",
            Effect.result(b.setMyName("Robert")),
            (r) => r._tag === "Failure" && r.failure._tag === "SlotRevoked",
          )
        }),
      timeout,
    )
  },
)
