// A group's transport setting: chosen at creation (default `private`), changed by its
// manager, kept by a rotation; records made before it existed read as `direct`. The
// address key that direct groups ask Iroh addresses with is the read tier's.
import { assert, describe, it } from "@effect/vitest"
import { deriveKey, KeyName, SecretKey } from "@save-dweb/crypto"
import { MemoryDhtNetwork } from "@save-dweb/dht-records"
import { formatLink } from "@save-dweb/uri-scheme"
import { Effect, Option, Redacted } from "effect"
import { GroupRecord, LEGACY_TRANSPORT } from "../src/index.ts"
import { keyPairFromSeed, ownerSeed } from "../src/keys.ts"
import { failureOf, participant } from "./support.ts"

const network = MemoryDhtNetwork.make()

describe("transport", () => {
  it.live("a new group is private unless made direct; its manager changes it", () =>
    Effect.gen(function* () {
      const net = yield* network
      const alice = yield* participant(net)
      const quiet = yield* alice.groups.create("Quiet")
      assert.strictEqual((yield* quiet.info).transport, "private")
      const fast = yield* alice.groups.create("Fast", { transport: "direct" })
      assert.strictEqual((yield* fast.info).transport, "direct")

      yield* quiet.updateInfo({ transport: "direct" })
      assert.strictEqual((yield* quiet.info).transport, "direct")
      // A member sees the change; it cannot make one.
      const bob = yield* participant(net)
      const member = yield* bob.groups.join(formatLink(yield* quiet.invite("write")))
      assert.strictEqual((yield* member.info).transport, "direct")
      assert.deepInclude(yield* failureOf(member.updateInfo({ transport: "private" })), {
        _tag: "InsufficientCapability",
        required: "manage",
      })
      yield* quiet.updateInfo({ transport: "private" })
      assert.strictEqual((yield* member.info).transport, "private")
    }),
  )

  it.live("a record without the setting (made before it existed) reads as direct", () =>
    Effect.gen(function* () {
      const net = yield* network
      const alice = yield* participant(net)
      const group = yield* alice.groups.create("Old")
      const cap = group.credentials.capability
      assert.strictEqual(cap._tag, "ManageCapability")
      if (cap._tag !== "ManageCapability") return
      const manage = yield* Effect.orDie(SecretKey.fromBytes(Redacted.value(cap.manageSecret)))
      const owner = yield* alice.records.open(GroupRecord, group.key, {
        encryptionKey: group.keys.dhtValues,
        writer: keyPairFromSeed(ownerSeed(manage)),
      })
      const info = yield* owner.get(0)
      assert.isTrue(Option.isSome(info))
      if (Option.isNone(info)) return
      const { transport: _, ...old } = info.value.value
      yield* owner.set(0, old)
      assert.strictEqual((yield* group.info).transport, LEGACY_TRANSPORT)
      assert.strictEqual(LEGACY_TRANSPORT, "direct")
    }),
  )

  it.live("read tier and up hold the address key, derived from the current group secret", () =>
    Effect.gen(function* () {
      const net = yield* network
      const alice = yield* participant(net)
      const group = yield* alice.groups.create("Keys")
      const server = yield* participant(net)
      const replica = yield* server.groups.join(formatLink(yield* group.invite("replicate")))
      assert.deepInclude(yield* failureOf(replica.addressKey), {
        _tag: "InsufficientCapability",
        required: "read",
        held: "replicate",
      })
      const reader = yield* server.groups.join(formatLink(yield* group.invite("read")))
      const key = yield* reader.addressKey
      assert.deepStrictEqual(
        Redacted.value(key),
        Redacted.value(deriveKey(yield* group.groupSecret, KeyName.addressAuth)),
      )
      // Not a key the replicate tier holds.
      for (const held of [replica.keys.tunnelAuth, replica.keys.dhtValues]) {
        assert.notDeepEqual(Redacted.value(held), Redacted.value(key))
      }
      // A rotation gives a new group secret, so a new address key, and keeps the setting.
      yield* group.updateInfo({ transport: "direct" })
      const rotated = yield* group.rotate
      assert.strictEqual((yield* rotated.group.info).transport, "direct")
      assert.notDeepEqual(Redacted.value(yield* rotated.group.addressKey), Redacted.value(key))
    }),
  )
})
