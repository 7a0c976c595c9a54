// Names are sealed under the group secret: a replicate holder (a backup server) opens the
// group's values but reads no group or member name; a sealed name moved to another slot
// does not open; plain names written before sealing still read, and are sealed at the
// next write.
import { assert, describe, it } from "@effect/vitest"
import { openEnvelope, SecretKey, SigningSeed } from "@save-dweb/crypto"
import { associatedData, MemoryDhtNetwork } from "@save-dweb/dht-records"
import { formatLink, GroupInvite, type WriteCapability } from "@save-dweb/uri-scheme"
import { Effect, Option, Redacted, Stream } from "effect"
import {
  encodeCredentials,
  GroupRecord,
  NameField,
  type SlotValue,
  slotSubkey,
} from "../src/index.ts"
import { keyPairFromSeed, ownerSeed } from "../src/keys.ts"
import { participant } from "./support.ts"

const network = MemoryDhtNetwork.make()

const GROUP = "Newsroom Zephyrine"
const ALICE = "Alice Quillfeather"
const BOB = "Bob Marrowstone"

const utf8 = new TextEncoder()

const includesBytes = (haystack: Uint8Array, needle: Uint8Array): boolean => {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return true
  }
  return false
}

/** A group by alice (manager, slot 0) with bob in slot 1, and a replicate holder. */
const setup = Effect.gen(function* () {
  const net = yield* network
  const alice = yield* participant(net)
  const group = yield* alice.groups.create(GROUP, { memberName: ALICE })
  const bob = yield* participant(net)
  const writeInvite = yield* group.invite("write")
  const member = yield* bob.groups.join(writeInvite, { memberName: BOB })
  const server = yield* participant(net)
  const replica = yield* server.groups.join(formatLink(yield* group.invite("replicate")))
  return { net, alice, group, bob, member, writeInvite, server, replica }
})

const ownerOf = Effect.fnUntraced(function* (
  records: Effect.Success<typeof setup>["alice"]["records"],
  group: Effect.Success<typeof setup>["group"],
) {
  const cap = group.credentials.capability
  if (cap._tag !== "ManageCapability") return yield* Effect.die(new Error("not the manager"))
  const manage = yield* Effect.orDie(SecretKey.fromBytes(Redacted.value(cap.manageSecret)))
  return yield* records.open(GroupRecord, group.key, {
    encryptionKey: group.keys.dhtValues,
    writer: keyPairFromSeed(ownerSeed(manage)),
  })
})

const slotWriter = (capability: WriteCapability) =>
  Effect.map(
    Effect.orDie(SigningSeed.fromBytes(Redacted.value(capability.writerSeed))),
    keyPairFromSeed,
  )

describe("names", () => {
  it.live("a replicate holder reads no group or member name; a read holder reads them", () =>
    Effect.gen(function* () {
      const { net, group, replica } = yield* setup
      assert.isUndefined((yield* replica.info).name)
      assert.isFalse(replica.names.readable)
      assert.deepStrictEqual(
        (yield* replica.members).map((m) => [m.slot, m.name]),
        [
          [0, undefined],
          [1, undefined],
        ],
      )
      const watched = yield* replica.watchMembers().pipe(Stream.take(1), Stream.runCollect)
      assert.deepStrictEqual(
        watched[0]?.members.map((m) => m.name),
        [undefined, undefined],
      )
      assert.deepInclude(yield* Effect.flip(replica.names.seal(NameField.group, "x")), {
        _tag: "InsufficientCapability",
        required: "read",
      })
      // Its stored credentials carry no name either (the link had none).
      assert.isUndefined(replica.credentials.name)
      // A replicate link from before, with a name hint: the hint is not kept.
      const old = new GroupInvite({ ...(yield* group.invite("replicate")), name: GROUP })
      assert.include(formatLink(old), "name=")
      const again = yield* (yield* participant(net)).groups.join(formatLink(old))
      assert.isUndefined(again.credentials.name)
      assert.notInclude(new TextDecoder().decode(encodeCredentials(again.credentials)), "Zephyrine")

      const reader = yield* (yield* participant(net)).groups.join(
        formatLink(yield* group.invite("read")),
      )
      assert.strictEqual((yield* reader.info).name, GROUP)
      assert.deepStrictEqual(
        (yield* reader.members).map((m) => m.name),
        [ALICE, BOB],
      )
    }),
  )

  it.live("the bytes on the DHT, opened with the replicate keys, hold no name", () =>
    Effect.gen(function* () {
      const { net, group, member, replica } = yield* setup
      yield* member.setMyName(`${BOB} Jr`)
      yield* group.updateInfo({ name: `${GROUP} Two` })
      const subkeys = [0, 1, slotSubkey(0), slotSubkey(1)]
      for (const subkey of subkeys) {
        const stored = yield* net.peek(group.key, subkey)
        assert.isTrue(Option.isSome(stored), `subkey ${subkey} is written`)
        if (Option.isNone(stored)) continue
        // What a replicate holder (or a DHT node given its link) can open.
        const plaintext = yield* openEnvelope(replica.keys.dhtValues, stored.value.data, {
          associatedData: associatedData(group.key, subkey),
        })
        for (const name of [GROUP, ALICE, BOB, "Zephyrine", "Quillfeather", "Marrowstone"]) {
          assert.isFalse(
            includesBytes(plaintext, utf8.encode(name)),
            `subkey ${subkey} holds ${name}`,
          )
        }
      }
      // The members still read them.
      assert.strictEqual((yield* member.info).name, `${GROUP} Two`)
      assert.deepStrictEqual(
        (yield* group.members).map((m) => m.name),
        [ALICE, `${BOB} Jr`],
      )
    }),
  )

  it.live("a sealed name copied into another slot or group does not open", () =>
    Effect.gen(function* () {
      const { alice, group, bob, writeInvite } = yield* setup
      const capability = writeInvite.capability as WriteCapability
      const own = yield* bob.records.open(GroupRecord, group.key, {
        encryptionKey: group.keys.dhtValues,
        writer: yield* slotWriter(capability),
      })
      const alices = yield* own.get(slotSubkey(0))
      assert.isTrue(Option.isSome(alices))
      if (Option.isNone(alices)) return
      // A subkey computed at run time types as any subkey's value; slot subkeys hold `SlotValue`.
      const value = alices.value.value as SlotValue
      if (value._tag !== "Member" || value.name === undefined) return assert.fail("no name")
      assert.instanceOf(value.name, Uint8Array)
      // Bob puts alice's sealed name in his own slot: it is bound to slot 0.
      yield* own.set(slotSubkey(1), { _tag: "Member", name: value.name, joinedAt: 1 })
      assert.deepStrictEqual(
        (yield* group.members).map((m) => [m.slot, m.name]),
        [
          [0, ALICE],
          [1, undefined],
        ],
      )
      // A name sealed for this group's info does not open in another group's.
      const other = yield* alice.groups.create("Other")
      const sealed = yield* group.names.seal(NameField.group, "Moved")
      const owner = yield* ownerOf(alice.records, other)
      const info = yield* owner.get(0)
      if (Option.isNone(info)) return assert.fail("no info")
      yield* owner.set(0, { ...info.value.value, name: sealed })
      assert.isUndefined((yield* other.info).name)
      assert.strictEqual(yield* group.names.open(NameField.group, sealed), "Moved")
      assert.isUndefined(yield* group.names.open(NameField.member(0), sealed))
    }),
  )

  it.live("plain names from before sealing still read, and are sealed at the next write", () =>
    Effect.gen(function* () {
      const { alice, group, bob, member, writeInvite, replica } = yield* setup
      // Values as an older version wrote them: plain names.
      const owner = yield* ownerOf(alice.records, group)
      const info = yield* owner.get(0)
      if (Option.isNone(info)) return assert.fail("no info")
      yield* owner.set(0, { ...info.value.value, name: "Old Newsroom" })
      const own = yield* bob.records.open(GroupRecord, group.key, {
        encryptionKey: group.keys.dhtValues,
        writer: yield* slotWriter(writeInvite.capability as WriteCapability),
      })
      yield* own.set(slotSubkey(1), { _tag: "Member", name: "Old Bob", joinedAt: 1 })

      assert.strictEqual((yield* group.info).name, "Old Newsroom")
      assert.strictEqual((yield* member.info).name, "Old Newsroom")
      assert.deepStrictEqual(
        (yield* group.members).map((m) => m.name),
        [ALICE, "Old Bob"],
      )
      // A replicate holder is not shown them (an older backup server did read them).
      assert.isUndefined((yield* replica.info).name)
      assert.deepStrictEqual(
        (yield* replica.members).map((m) => m.name),
        [undefined, undefined],
      )

      // The next writes of those values seal the names they keep.
      yield* group.updateInfo({ transport: "direct" })
      yield* member.setMyRepo("VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
      const infoAfter = yield* owner.get(0, { refresh: true })
      const slotAfter = yield* own.get(slotSubkey(1), { refresh: true })
      if (Option.isNone(infoAfter) || Option.isNone(slotAfter)) return assert.fail("no values")
      assert.instanceOf(infoAfter.value.value.name, Uint8Array)
      const slot = slotAfter.value.value as SlotValue
      assert.isTrue(slot._tag === "Member" && slot.name instanceof Uint8Array)
      assert.strictEqual((yield* group.info).name, "Old Newsroom")
      assert.deepStrictEqual(
        (yield* group.members).map((m) => m.name),
        [ALICE, "Old Bob"],
      )
    }),
  )

  it.live("a rotation carries the group and member names over, sealed under the new secret", () =>
    Effect.gen(function* () {
      const { group } = yield* setup
      const { group: next } = yield* group.rotate
      assert.strictEqual((yield* next.info).name, GROUP)
      assert.deepStrictEqual(
        (yield* next.members).map((m) => m.name),
        [ALICE],
      )
    }),
  )
})
