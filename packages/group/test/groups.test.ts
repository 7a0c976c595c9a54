// The group package over the in-memory DHT: every participant is a node of its own.
import { assert, describe, it } from "@effect/vitest"
import {
  decryptFile,
  deriveKey,
  encryptFile,
  GroupSecret,
  KeyName,
  SigningSeed,
} from "@save-dweb/crypto"
import { MemoryDhtNetwork } from "@save-dweb/dht-records"
import {
  formatLink,
  GroupInvite,
  makeSecretKey,
  parseGroupInvite,
  ReadCapability,
  WriteCapability,
} from "@save-dweb/uri-scheme"
import { Effect, Option, Redacted } from "effect"
import {
  decodeCredentials,
  encodeCredentials,
  type Group,
  GroupRecord,
  MAX_MEMBERS,
  type Membership,
  slotSubkey,
} from "../src/index.ts"
import { keyPairFromSeed } from "../src/keys.ts"
import { collect, failureOf, next, participant } from "./support.ts"

/** The Veilid key pair a write link's seed stands for. */
const slotWriter = (capability: WriteCapability) =>
  Effect.map(
    Effect.orDie(SigningSeed.fromBytes(Redacted.value(capability.writerSeed))),
    keyPairFromSeed,
  )

const network = MemoryDhtNetwork.make()

/** A network with a creator (`alice`) who made group "Family photos". */
const setup = Effect.gen(function* () {
  const net = yield* network
  const alice = yield* participant(net)
  const group = yield* alice.groups.create("Family photos", { memberName: "Alice" })
  return { net, alice, group }
})

const linkOf = (invite: GroupInvite) => formatLink(invite)

describe("create and invite", () => {
  it.live("create → the name reads back and the creator is member 0", () =>
    Effect.gen(function* () {
      const { net, group } = yield* setup
      assert.strictEqual(group.tier, "manage")
      assert.strictEqual(group.slot, 0)
      const info = yield* group.info
      assert.strictEqual(info.name, "Family photos")
      assert.strictEqual(info.sourcePolicy, "any")
      assert.isFalse(info.rotated)
      const members = yield* group.members
      assert.deepStrictEqual(
        members.map((m) => [m.slot, m.name]),
        [[0, "Alice"]],
      )
      // Another node reads the same name with a read link.
      const bob = yield* participant(net)
      const reader = yield* bob.groups.join(linkOf(yield* group.invite("read")))
      assert.strictEqual((yield* reader.info).name, "Family photos")
    }),
  )

  it.live("an invite per tier joins with exactly that tier", () =>
    Effect.gen(function* () {
      const { net, group } = yield* setup
      for (const tier of ["replicate", "read", "write"] as const) {
        const invite = yield* group.invite(tier)
        const text = linkOf(invite)
        assert.include(text, `cap=${tier}`)
        assert.include(text, "name=Family%20photos")
        const other = yield* participant(net)
        const joined = yield* other.groups.join(text, { memberName: `a ${tier} holder` })
        assert.strictEqual(joined.tier, tier)
        assert.strictEqual(joined.key, group.key)
        assert.strictEqual(joined.credentials.tier, tier)
      }
      // Only the write holder took a slot.
      const members = yield* group.members
      assert.deepStrictEqual(
        members.map((m) => [m.slot, m.name]),
        [
          [0, "Alice"],
          [1, "a write holder"],
        ],
      )
    }),
  )

  it.live("members and repos list names and repo keys", () =>
    Effect.gen(function* () {
      const { net, group } = yield* setup
      const bob = yield* participant(net)
      const carol = yield* participant(net)
      const b = yield* bob.groups.join(yield* group.invite("write"), { memberName: "Bob" })
      const c = yield* carol.groups.join(yield* group.invite("write"), { memberName: "Carol" })
      const repoB = yield* bob.records.generateKeyPair.pipe(
        Effect.map((k) => k.split(":").slice(0, 2).join(":")),
      )
      yield* b.setMyRepo(repoB)
      yield* c.setMyName("Caroline")
      const members = yield* group.members
      assert.deepStrictEqual(
        members.map((m) => ({ slot: m.slot, name: m.name, repoKey: m.repoKey })),
        [
          { slot: 0, name: "Alice", repoKey: undefined },
          { slot: 1, name: "Bob", repoKey: repoB },
          { slot: 2, name: "Caroline", repoKey: undefined },
        ],
      )
      assert.deepStrictEqual(yield* c.repos, [{ slot: 1, repoKey: repoB, memberName: "Bob" }])
      yield* b.setMyRepo(undefined)
      assert.deepStrictEqual(yield* group.repos, [])
    }),
  )

  it.live("watch sees a join, an update, a revocation and a leave", () =>
    Effect.gen(function* () {
      const { net, group } = yield* setup
      const events = yield* collect(group.watchMembers())
      const first = yield* next(events, () => true)
      assert.deepStrictEqual(first.changes, [])
      assert.strictEqual(first.members.length, 1)
      const bob = yield* participant(net)
      const carol = yield* participant(net)
      const b = yield* bob.groups.join(yield* group.invite("write"), { memberName: "Bob" })
      const joined = yield* next(events, (m) => m.changes.some((c) => c._tag === "Joined"))
      assert.deepStrictEqual(
        joined.changes.map((c) => c._tag),
        ["Joined"],
      )
      assert.deepStrictEqual(
        joined.members.map((m) => m.name),
        ["Alice", "Bob"],
      )
      yield* b.setMyName("Robert")
      const updated = yield* next(events, (m) => m.changes.some((c) => c._tag === "Updated"))
      assert.deepStrictEqual(
        updated.members.map((m) => m.name),
        ["Alice", "Robert"],
      )
      const c = yield* carol.groups.join(yield* group.invite("write"), { memberName: "Carol" })
      yield* next(events, (m) => m.members.length === 3)
      yield* group.revoke(b.slot as number)
      const revoked = yield* next(events, (m: Membership) =>
        m.changes.some((ch) => ch._tag === "Revoked"),
      )
      assert.deepStrictEqual(revoked.revoked, [1])
      assert.deepStrictEqual(
        revoked.members.map((m) => m.name),
        ["Alice", "Carol"],
      )
      yield* c.leave
      const left = yield* next(events, (m) => m.changes.some((ch) => ch._tag === "Left"))
      assert.deepStrictEqual(left.changes, [{ _tag: "Left", slot: 2 }])
      assert.deepStrictEqual(
        left.members.map((m) => m.name),
        ["Alice"],
      )
    }),
  )

  it.live("credentials round-trip through storage and open the group again", () =>
    Effect.gen(function* () {
      const { net, group } = yield* setup
      const bob = yield* participant(net)
      const b = yield* bob.groups.join(yield* group.invite("write"), { memberName: "Bob" })
      for (const credentials of [group.credentials, b.credentials]) {
        const bytes = encodeCredentials(credentials)
        const restored = yield* decodeCredentials(bytes)
        assert.strictEqual(restored.tier, credentials.tier)
        assert.deepStrictEqual(encodeCredentials(restored), bytes)
        // On a node that never saw the record: the manager's keys all follow from its secrets.
        const elsewhere = yield* participant(net)
        const reopened = yield* elsewhere.groups.open(restored)
        assert.strictEqual(reopened.tier, credentials.tier)
        assert.strictEqual(reopened.slot, credentials.tier === "manage" ? 0 : 1)
        assert.strictEqual((yield* reopened.members).length, 2)
      }
      // The manager, reopened elsewhere, hands out the next slot.
      const elsewhere = yield* participant(net)
      const manager = yield* elsewhere.groups.open(group.credentials)
      const invite = yield* manager.invite("write")
      assert.strictEqual((invite.capability as WriteCapability).slot, 2)
      const malformed = yield* failureOf(decodeCredentials(Uint8Array.of(1, 2, 3)))
      assert.strictEqual(malformed._tag, "InvalidCredentials")
    }),
  )

  it.live("two managers inviting at once never hand out the same slot", () =>
    Effect.gen(function* () {
      const { net, group } = yield* setup
      const other = yield* participant(net)
      const twin = yield* other.groups.open(group.credentials)
      const invites = yield* Effect.all(
        [
          ...Array.from({ length: 6 }, () => group.invite("write")),
          ...Array.from({ length: 6 }, () => twin.invite("write")),
        ],
        { concurrency: "unbounded" },
      )
      const slots = invites.map((i) => (i.capability as WriteCapability).slot).sort((a, b) => a - b)
      assert.deepStrictEqual(
        slots,
        Array.from({ length: 12 }, (_, i) => i + 1),
      )
    }),
  )

  it.live(
    "250 members fill the group; the next write invite fails with GroupFull",
    () =>
      Effect.gen(function* () {
        const { net, group } = yield* setup
        const joined = yield* Effect.forEach(
          Array.from({ length: MAX_MEMBERS - 1 }, (_, i) => i + 1),
          (n) =>
            Effect.gen(function* () {
              const member = yield* participant(net)
              return yield* member.groups.join(yield* group.invite("write"), {
                memberName: `member ${n}`,
              })
            }),
          { concurrency: 1 },
        )
        const members = yield* group.members
        assert.strictEqual(members.length, MAX_MEMBERS)
        assert.deepStrictEqual(
          members.map((m) => m.slot),
          Array.from({ length: MAX_MEMBERS }, (_, i) => i),
        )
        const full = yield* failureOf(group.invite("write"))
        assert.strictEqual(full._tag, "GroupFull")
        // Read and replicate links take no slot.
        yield* group.invite("read")
        yield* group.invite("replicate")
        // A full group still rotates: the notice holds all 249 members' entries.
        const rotation = yield* group.rotate
        assert.strictEqual(rotation.invites.length, MAX_MEMBERS - 1)
        const last = joined.at(-1) as Group
        const followed = Option.getOrThrow(yield* last.followRotation)
        assert.strictEqual(followed.group, rotation.group.key)
        assert.strictEqual((followed.capability as WriteCapability).slot, MAX_MEMBERS - 1)
      }),
    60_000,
  )
})

describe("capability tiers", () => {
  it.live("a read link cannot write", () =>
    Effect.gen(function* () {
      const { net, group } = yield* setup
      const bob = yield* participant(net)
      const reader = yield* bob.groups.join(linkOf(yield* group.invite("read")))
      for (const attempt of [
        reader.setMyName("Bob"),
        reader.setMyRepo(undefined),
        reader.followRotation,
      ]) {
        const error = yield* failureOf(attempt)
        assert.strictEqual(error._tag, "InsufficientCapability")
        if (error._tag === "InsufficientCapability") {
          assert.strictEqual(error.required, "write")
          assert.strictEqual(error.held, "read")
        }
      }
      const invite = yield* failureOf(reader.invite("write"))
      assert.deepInclude(invite, {
        _tag: "InsufficientCapability",
        required: "manage",
        held: "read",
      })
      assert.deepInclude(yield* failureOf(reader.revoke(1)), {
        _tag: "InsufficientCapability",
        required: "manage",
      })
      // The link carries no writer key, and the record refuses a write through it.
      const record = yield* bob.records.open(GroupRecord, group.key, {
        encryptionKey: reader.keys.dhtValues,
      })
      const raw = yield* failureOf(record.set(slotSubkey(1), { _tag: "Member", joinedAt: 0 }))
      assert.strictEqual(raw._tag, "RecordNotWritable")
      // A write member cannot do what only the manager can.
      const writer = yield* (yield* participant(net)).groups.join(yield* group.invite("write"))
      assert.deepInclude(yield* failureOf(writer.revoke(0)), {
        _tag: "InsufficientCapability",
        required: "manage",
        held: "write",
      })
      assert.deepInclude(yield* failureOf(writer.invite("write")), { required: "manage" })
      assert.strictEqual((yield* writer.invite("read")).capability._tag, "ReadCapability")
    }),
  )

  it.live("a replicate link cannot decrypt files but lists repos", () =>
    Effect.gen(function* () {
      const { net, group } = yield* setup
      const bob = yield* participant(net)
      const b = yield* bob.groups.join(yield* group.invite("write"), { memberName: "Bob" })
      yield* b.setMyRepo("VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
      const server = yield* participant(net)
      const invite = yield* group.invite("replicate")
      const text = linkOf(invite)
      assert.notInclude(text, "secret=")
      const replica = yield* server.groups.join(text)
      assert.strictEqual(replica.credentials.capability._tag, "ReplicateCapability")
      assert.deepStrictEqual(yield* replica.repos, [
        { slot: 1, repoKey: "VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", memberName: "Bob" },
      ])
      assert.deepInclude(yield* failureOf(replica.fileKey), {
        _tag: "InsufficientCapability",
        required: "read",
        held: "replicate",
      })
      assert.deepInclude(yield* failureOf(replica.groupSecret), { required: "read" })
      assert.deepInclude(yield* failureOf(replica.invite("read")), { required: "read" })
      // A file sealed with the group's file key opens with none of the keys a replicate holder has.
      const file = yield* encryptFile(yield* group.fileKey, new TextEncoder().encode("photo"))
      for (const key of [replica.keys.dhtValues, replica.keys.tunnelAuth]) {
        assert.strictEqual((yield* failureOf(decryptFile(key, file)))._tag, "DecryptError")
      }
      // It can still pass its own tier on (to another backup server).
      assert.strictEqual(
        (yield* replica.invite("replicate")).capability._tag,
        "ReplicateCapability",
      )
    }),
  )

  it.live("bad links fail with InvalidInvite", () =>
    Effect.gen(function* () {
      const { net, group } = yield* setup
      const bob = yield* participant(net)
      const malformed = yield* failureOf(bob.groups.join("save+dweb:invite?v=1&cap=read"))
      assert.deepInclude(malformed, { _tag: "InvalidInvite", reason: "Malformed" })
      // The right record with another group's secret.
      const wrongSecret = new GroupInvite({
        group: group.key,
        capability: new ReadCapability({
          groupSecret: makeSecretKey(Redacted.value(yield* GroupSecret.generate)),
        }),
      })
      assert.deepInclude(yield* failureOf(bob.groups.join(wrongSecret)), {
        _tag: "InvalidInvite",
        reason: "WrongKey",
      })
      // A write link whose slot number was changed: the seed is slot 1's.
      const real = yield* group.invite("write")
      const cap = real.capability as WriteCapability
      const moved = new GroupInvite({
        group: group.key,
        capability: new WriteCapability({ ...cap, slot: 7 }),
      })
      assert.deepInclude(yield* failureOf(bob.groups.join(formatLink(moved))), {
        _tag: "InvalidInvite",
        reason: "WrongWriter",
      })
      const name = yield* failureOf(bob.groups.join(real, { memberName: "a\u0000b" }))
      assert.strictEqual(name._tag, "InvalidName")
      assert.strictEqual((yield* failureOf(group.setMyName("")))._tag, "InvalidName")
      // A link round-trips through text unchanged.
      assert.strictEqual(formatLink(yield* parseGroupInvite(formatLink(real))), formatLink(real))
    }),
  )
})

describe("revoke and leave", () => {
  it.live("a revoked member's writes are ignored", () =>
    Effect.gen(function* () {
      const { net, group } = yield* setup
      const bob = yield* participant(net)
      const b = yield* bob.groups.join(yield* group.invite("write"), { memberName: "Bob" })
      yield* b.setMyRepo("VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
      const reader = yield* (yield* participant(net)).groups.join(yield* group.invite("replicate"))
      assert.strictEqual((yield* reader.repos).length, 1)
      yield* group.revoke(1)
      yield* group.revoke(1) // idempotent
      assert.deepStrictEqual(
        (yield* group.members).map((m) => m.slot),
        [0],
      )
      assert.deepStrictEqual(yield* reader.repos, [])
      // Through the group API: refused.
      assert.deepInclude(
        yield* failureOf(b.setMyRepo("VLD0:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA")),
        {
          _tag: "SlotRevoked",
          slot: 1,
        },
      )
      // Around it, with the slot's key: the DHT takes the value, every reader ignores it.
      const raw = yield* bob.records.open(GroupRecord, group.key, {
        encryptionKey: b.keys.dhtValues,
        writer: yield* slotWriter(b.credentials.capability as WriteCapability),
      })
      yield* raw.set(slotSubkey(1), {
        _tag: "Member",
        name: "Bob again",
        repo: "VLD0:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA",
        joinedAt: 1,
      })
      assert.deepStrictEqual(
        (yield* group.members).map((m) => m.name),
        ["Alice"],
      )
      assert.deepStrictEqual(yield* reader.repos, [])
      // Each writer has its own slot only: not another member's, not the manager's.
      for (const subkey of [slotSubkey(0), slotSubkey(2)]) {
        const other = yield* failureOf(raw.set(subkey, { _tag: "Left", at: 1 }))
        assert.strictEqual(other._tag, "RecordNotWritable")
      }
      // The member cannot un-revoke: the roster is the owner's subkey.
      const roster = yield* failureOf(raw.set(1, { allocated: 2, revoked: [] }))
      assert.strictEqual(roster._tag, "RecordNotWritable")
      // Re-joining with the same link is refused too.
      const again = yield* failureOf((yield* participant(net)).groups.join(b.credentials))
      assert.strictEqual(again._tag, "SlotRevoked")
      // Only handed-out slots, and never the manager's own.
      assert.strictEqual((yield* failureOf(group.revoke(0)))._tag, "InvalidSlot")
      assert.strictEqual((yield* failureOf(group.revoke(9)))._tag, "InvalidSlot")
    }),
  )

  it.live("leave clears the slot and forgets the group", () =>
    Effect.gen(function* () {
      const { net, group } = yield* setup
      const bob = yield* participant(net)
      const invite = yield* group.invite("write")
      const b = yield* bob.groups.join(invite, { memberName: "Bob" })
      assert.strictEqual((yield* group.members).length, 2)
      yield* b.leave
      assert.deepStrictEqual(
        (yield* group.members).map((m) => m.name),
        ["Alice"],
      )
      assert.strictEqual((yield* failureOf(b.members))._tag, "NotAMember")
      assert.strictEqual((yield* failureOf(b.setMyName("Bob")))._tag, "NotAMember")
      // The slot is not handed out again, and its link no longer joins.
      assert.deepInclude(yield* failureOf((yield* participant(net)).groups.join(invite)), {
        _tag: "InvalidInvite",
        reason: "SlotLeft",
      })
      assert.strictEqual(((yield* group.invite("write")).capability as WriteCapability).slot, 2)
      // A reader leaves without writing anything.
      const reader = yield* (yield* participant(net)).groups.join(yield* group.invite("read"))
      yield* reader.leave
      assert.strictEqual((yield* failureOf(reader.info))._tag, "NotAMember")
    }),
  )
})

describe("rotation", () => {
  it.live(
    "after a revocation the manager rotates; remaining members follow, the revoked cannot",
    () =>
      Effect.gen(function* () {
        const { net, group } = yield* setup
        const bob = yield* participant(net)
        const carol = yield* participant(net)
        const b = yield* bob.groups.join(yield* group.invite("write"), { memberName: "Bob" })
        const c = yield* carol.groups.join(yield* group.invite("write"), { memberName: "Carol" })
        const oldRead = yield* group.invite("read")
        assert.isTrue(Option.isNone(yield* b.followRotation))
        const watched = yield* collect(b.watchMembers())
        assert.isFalse((yield* next(watched, () => true)).rotated)
        yield* group.revoke(c.slot as number)
        const rotation = yield* group.rotate
        // Bob's watch of the old record tells him, with no member change of its own.
        assert.isTrue((yield* next(watched, (m) => m.rotated)).rotated)
        const fresh = rotation.group
        assert.notStrictEqual(fresh.key, group.key)
        assert.strictEqual(fresh.tier, "manage")
        assert.deepStrictEqual(
          rotation.invites.map((i) => [i.previousSlot, i.slot]),
          [[1, 1]],
        )
        assert.isTrue((yield* group.info).rotated)
        assert.strictEqual((yield* fresh.info).name, "Family photos")
        // Bob finds his credentials for the new group in the old one.
        const followed = yield* b.followRotation
        assert.isTrue(Option.isSome(followed))
        const moved = yield* bob.groups.join(Option.getOrThrow(followed), { memberName: "Bob" })
        assert.strictEqual(moved.key, fresh.key)
        assert.deepStrictEqual(
          (yield* fresh.members).map((m) => [m.slot, m.name]),
          [
            [0, "Alice"],
            [1, "Bob"],
          ],
        )
        // Carol was revoked: no entry for her; her old secret does not open the new group.
        assert.strictEqual((yield* failureOf(c.followRotation))._tag, "SlotRevoked")
        const oldSecret = (oldRead.capability as ReadCapability).groupSecret
        const stale = new GroupInvite({
          group: fresh.key,
          capability: new ReadCapability({ groupSecret: oldSecret }),
        })
        assert.deepInclude(yield* failureOf(carol.groups.join(stale)), { reason: "WrongKey" })
        // New invites come from the new group, after the carried-over slots.
        assert.strictEqual(((yield* fresh.invite("write")).capability as WriteCapability).slot, 2)
        // Key separation: the new group's file key is not the old one's.
        const oldKey = deriveKey(yield* group.groupSecret, KeyName.fileContents)
        assert.notDeepEqual(Redacted.value(oldKey), Redacted.value(yield* fresh.fileKey))
      }),
  )
})
