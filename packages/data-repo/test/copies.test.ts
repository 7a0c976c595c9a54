// Who holds a copy, as the holders prove it over their tunnels; over the memory layers.
import { assert, describe, it } from "@effect/vitest"
import { askHas, type BlobHash, blake3, tunnelSource } from "@save-dweb/blob-store"
import { SecretKey } from "@save-dweb/crypto"
import { requestHandler } from "@save-dweb/tunnels"
import { Effect, Redacted, Result, Schema, Stream } from "effect"
import fc from "fast-check"
import {
  askPossession,
  BACKUP_RECORD_SUBKEYS,
  BackupRecord,
  backupRouteKey,
  groupProtocols,
  type HolderCheck,
  MAX_PROOF_RANGE,
  makeChallenge,
  ProofAnswer,
  ProofChallenge,
} from "../src/index.ts"
import { failureOf, networks, pattern, person } from "./support.ts"

/** Each holder as `tag:slot-or-name` → possession, in a stable order. */
const summary = (checks: ReadonlyArray<HolderCheck>) =>
  Object.fromEntries(
    checks.map((c) => [
      c.holder._tag === "Member" ? `member:${c.holder.slot}` : `backup:${c.holder.name}`,
      c.possession,
    ]),
  )

const AnswerJson = Schema.fromJsonString(ProofAnswer)
const ChallengeJson = Schema.fromJsonString(ProofChallenge)
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

describe("copies: holders prove possession", () => {
  it.live(
    "a member and a backup that hold the blob are listed; one that deleted it, or lies, is not; nothing is written to the DHT",
    () =>
      Effect.gen(function* () {
        const { dht, net } = yield* networks
        const alice = yield* person(dht, net)
        const group = yield* alice.groups.create("g", { memberName: "Alice" })
        const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
        const file = yield* repo.write("f.bin", Stream.make(pattern(200_000, 7)))

        // Bob keeps a copy; Carol never fetches it.
        const bob = yield* person(dht, net)
        const bobGroup = yield* bob.groups.join(yield* group.invite("write"), { memberName: "B" })
        yield* bob.repos.create(bobGroup, { name: "Bob", tunnels: bob.tunnels })
        const theirs = yield* bob.repos.open(bobGroup, repo.key)
        yield* theirs.pin("f.bin")
        const carol = yield* person(dht, net)
        const carolGroup = yield* carol.groups.join(yield* group.invite("write"))
        yield* carol.repos.create(carolGroup, { name: "Carol", tunnels: carol.tunnels })

        // A backup server replicates the repo and is listed by Alice.
        const backup = yield* person(dht, net)
        const backupGroup = yield* backup.groups.join(yield* group.invite("replicate"))
        yield* backup.repos.serve(backupGroup, backup.tunnels)
        const access = yield* SecretKey.generate
        const routeKey = backupRouteKey(access)
        const descriptor = yield* backup.records.create(BackupRecord, {
          schema: { kind: "DFLT", subkeys: BACKUP_RECORD_SUBKEYS },
          encryptionKey: routeKey,
        })
        yield* descriptor.set(0, { route: (yield* backup.tunnels.route).blob, at: Date.now() })
        yield* repo.addBackup({
          record: descriptor.key,
          routeKey: Uint8Array.from(Redacted.value(routeKey)),
          name: "Archive",
        })
        yield* backup.repos.syncAll(backupGroup, { asBackup: descriptor.key })

        // Dave fetched the blob once, kept one answer, then deleted it and answers with
        // what he kept (or anything) on the proof protocol before his repo serves it.
        const dave = yield* person(dht, net)
        const daveGroup = yield* dave.groups.join(yield* group.invite("write"))
        yield* dave.tunnels.serve(
          groupProtocols(group.key).proof,
          requestHandler(() =>
            Effect.succeed(
              utf8.encode(
                Schema.encodeSync(AnswerJson)({ _tag: "Proof", digest: "ab".repeat(32) }),
              ),
            ),
          ),
          { keys: [daveGroup.keys.tunnelAuth] },
        )
        yield* dave.repos.create(daveGroup, { name: "Dave", tunnels: dave.tunnels })

        const slots = {
          bob: bobGroup.slot,
          carol: carolGroup.slot,
          dave: daveGroup.slot,
        }
        const copies = () => alice.repos.copies(group, repo.key, file.hash, alice.tunnels)
        // What the DHT holds of the group and every repo, to compare after asking.
        const dhtValues = Effect.gen(function* () {
          const keys = [group.key, ...(yield* group.repos).map((p) => p.repoKey)]
          const values: Array<string> = []
          for (const key of keys)
            for (let subkey = 0; subkey < 8; subkey++) {
              const value = yield* dht.peek(key, subkey)
              values.push(`${key}/${subkey}:${value._tag === "Some" ? value.value.seq : "-"}`)
            }
          return values
        })
        const before = yield* dhtValues
        assert.isTrue(before.some((v) => !v.endsWith(":-")))
        assert.deepStrictEqual(summary(yield* copies()), {
          [`member:${slots.bob}`]: "holds",
          [`member:${slots.carol}`]: "absent",
          [`member:${slots.dave}`]: "absent",
          "backup:Archive": "holds",
        })

        // Holdings travel only in the answers: nothing was written to the DHT.
        assert.deepStrictEqual(yield* dhtValues, before)

        // Bob drops his copy: the next check no longer counts him.
        yield* theirs.unpin("f.bin")
        assert.isFalse(yield* bob.store.has(file.hash))
        assert.strictEqual(summary(yield* copies())[`member:${slots.bob}`], "absent")
      }).pipe(Effect.scoped),
  )

  it.live("a holder that does not answer is unknown, never holding", () =>
    Effect.gen(function* () {
      const { dht, net } = yield* networks
      const alice = yield* person(dht, net)
      const group = yield* alice.groups.create("g", { memberName: "Alice" })
      const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
      const file = yield* repo.write("f.bin", Stream.make(pattern(10_000, 1)))
      const bob = yield* person(dht, net)
      const bobGroup = yield* bob.groups.join(yield* group.invite("write"))
      // Bob's answer never comes.
      yield* bob.tunnels.serve(
        groupProtocols(group.key).proof,
        requestHandler(() => Effect.never),
        { keys: [bobGroup.keys.tunnelAuth] },
      )
      yield* bob.repos.create(bobGroup, { name: "Bob", tunnels: bob.tunnels })
      const checks = yield* alice.repos.copies(group, repo.key, file.hash, alice.tunnels, {
        timeout: "300 millis",
      })
      assert.deepStrictEqual(summary(checks), { [`member:${bobGroup.slot}`]: "unknown" })

      // Nor can the asker check anyone without its own copy.
      const other = yield* Effect.promise(() => blake3(pattern(64, 2)))
      const error = yield* failureOf(alice.repos.copies(group, repo.key, other, alice.tunnels))
      assert.strictEqual(error._tag, "NotLocal")
    }).pipe(Effect.scoped),
  )

  it.live(
    "a replicate holder asking for proofs learns what Has already tells it, and a stranger nothing",
    () =>
      Effect.gen(function* () {
        const { dht, net } = yield* networks
        const alice = yield* person(dht, net)
        const group = yield* alice.groups.create("g", { memberName: "Alice" })
        const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
        const file = yield* repo.write("f.bin", Stream.make(pattern(50_000, 3)))
        const other = yield* alice.groups.create("h", { memberName: "Alice" })
        const elsewhere = yield* alice.repos.create(other, { name: "A", tunnels: alice.tunnels })
        const otherFile = yield* elsewhere.write("o.bin", Stream.make(pattern(50_000, 4)))
        const unknown = yield* Effect.promise(() => blake3(pattern(64, 5)))

        const backup = yield* person(dht, net)
        const backupGroup = yield* backup.groups.join(yield* group.invite("replicate"))
        const [route] = yield* (yield* backup.repos.open(backupGroup, repo.key)).routes
        if (route === undefined) return assert.fail("Alice publishes no route")
        const peer = yield* backup.tunnels.connect(route, backupGroup.keys.tunnelAuth)
        const protocols = groupProtocols(group.key)
        const has = yield* askHas(tunnelSource(peer, { id: "alice", protocol: protocols.blobs }), [
          file.hash,
          otherFile.hash,
          unknown,
        ])

        /** What the proof protocol says of `hash`, asked without a copy to check it with. */
        const answered = (hash: BlobHash) =>
          Effect.gen(function* () {
            const challenge = yield* makeChallenge(hash, 1000)
            const reply = yield* peer.request(
              protocols.proof,
              utf8.encode(Schema.encodeSync(ChallengeJson)(challenge)),
            )
            return Schema.decodeUnknownSync(AnswerJson)(utf8Decoder.decode(reply))._tag
          })
        // The same hashes, the same one bit each: held (a digest it cannot check) or not.
        for (const hash of [file.hash, otherFile.hash, unknown]) {
          assert.strictEqual(
            yield* answered(hash),
            has.includes(hash) ? "Proof" : "NotHeld",
            `hash ${hash}`,
          )
        }
        assert.deepStrictEqual(has, [file.hash])

        // Without the group's tunnel key the call is refused before the handler runs.
        const stranger = yield* person(dht, net)
        const strangerPeer = yield* stranger.tunnels.connect(route, yield* SecretKey.generate)
        const challenge = yield* makeChallenge(file.hash, 1000)
        const refused = yield* failureOf(
          askPossession(
            strangerPeer,
            protocols.proof,
            challenge,
            "00".repeat(32),
            "2 seconds",
          ).pipe(Effect.flatMap((p) => (p === "unknown" ? Effect.fail(p) : Effect.succeed(p)))),
        )
        assert.strictEqual(refused, "unknown")
      }).pipe(Effect.scoped),
  )
})

describe("possession proof codecs", () => {
  const hex = (bytes: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${bytes * 2}}$`))
  const challenge = fc.record({
    v: fc.constant(1 as const),
    hash: hex(32).map((h) => h as BlobHash),
    offset: fc.nat(),
    length: fc.integer({ min: 0, max: MAX_PROOF_RANGE }),
    nonce: hex(32),
  })

  it("a challenge and an answer round-trip their JSON; any other text is refused, never thrown", () => {
    fc.assert(
      fc.property(challenge, (c) => {
        const text = Schema.encodeSync(ChallengeJson)(c)
        assert.deepStrictEqual(Schema.decodeUnknownSync(ChallengeJson)(text), c)
      }),
    )
    fc.assert(
      fc.property(hex(32), (digest) => {
        const answer = { _tag: "Proof" as const, digest }
        const text = Schema.encodeSync(AnswerJson)(answer)
        assert.deepStrictEqual(Schema.decodeUnknownSync(AnswerJson)(text), answer)
      }),
    )
    fc.assert(
      fc.property(fc.string(), (text) => {
        assert.isTrue(Result.isFailure(Schema.decodeUnknownResult(ChallengeJson)(text)))
      }),
    )
  })

  it("a challenge over more than 64 KiB, or with a short nonce, is refused", () => {
    fc.assert(
      fc.property(challenge, fc.integer({ min: MAX_PROOF_RANGE + 1 }), (c, length) => {
        const long = JSON.stringify({ ...c, length })
        assert.isTrue(Result.isFailure(Schema.decodeUnknownResult(ChallengeJson)(long)))
        const short = JSON.stringify({ ...c, nonce: c.nonce.slice(2) })
        assert.isTrue(Result.isFailure(Schema.decodeUnknownResult(ChallengeJson)(short)))
      }),
    )
  })
})
