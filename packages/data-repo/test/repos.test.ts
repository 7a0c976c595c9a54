// data-repo over the memory layers: every participant has its own DHT node and blob store.
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { MemoryDhtNetwork } from "@save-dweb/dht-records"
import { Effect, Option, Stream } from "effect"
import { RepoRecord } from "../src/index.ts"
import { bytesOf, chunked, contains, failureOf, participant, pattern } from "./support.ts"

const utf8 = new TextEncoder()

/** Alice made a group and her repo; `join(tier)` adds a participant holding that tier. */
const setup = Effect.gen(function* () {
  const net = yield* MemoryDhtNetwork.make()
  const alice = yield* participant(net)
  const group = yield* alice.groups.create("Family photos", { memberName: "Alice" })
  const repo = yield* alice.repos.create(group, { name: "Alice" })
  const join = (tier: "write" | "read" | "replicate", memberName?: string) =>
    Effect.gen(function* () {
      const p = yield* participant(net)
      const link = yield* group.invite(tier)
      const g = yield* p.groups.join(link, memberName === undefined ? {} : { memberName })
      return { ...p, group: g }
    })
  return { net, alice, group, repo, join }
})

describe("own repo", () => {
  it.live("write → list → read gives identical bytes", () =>
    Effect.gen(function* () {
      const { alice, repo } = yield* setup
      const bytes = pattern(300_000)
      const written = yield* repo.write("holiday.jpg", chunked(bytes, 7_001))
      assert.strictEqual(written.size, bytes.length)
      assert.isAbove(written.storedSize, bytes.length)
      const files = yield* repo.list()
      assert.deepStrictEqual(
        files.map((f) => [f.name, f.hash, f.size, f.owner, f.status]),
        [["holiday.jpg", written.hash, bytes.length, "Alice", "local"]],
      )
      assert.deepStrictEqual(yield* bytesOf(repo.read("holiday.jpg")), bytes)
      // What the store holds is ciphertext, named by its hash.
      const stored = yield* bytesOf(alice.store.read(written.hash))
      assert.isFalse(contains(stored, bytes.subarray(1000, 1064)))
    }).pipe(Effect.scoped),
  )

  it.live("writes from a path and an empty file", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "data-repo-")))
      yield* Effect.addFinalizer(() => Effect.promise(() => rm(dir, { recursive: true })))
      const path = join(dir, "notes.txt")
      const bytes = utf8.encode("from a file on disk\n".repeat(500))
      yield* Effect.promise(() => writeFile(path, bytes))
      yield* repo.write("notes.txt", path)
      yield* repo.write("empty", Stream.empty)
      assert.deepStrictEqual(yield* bytesOf(repo.read("notes.txt")), bytes)
      assert.deepStrictEqual(yield* bytesOf(repo.read("empty")), new Uint8Array(0))
      assert.deepStrictEqual(
        (yield* repo.list()).map((f) => [f.name, f.size]),
        [
          ["empty", 0],
          ["notes.txt", bytes.length],
        ],
      )
    }).pipe(Effect.scoped),
  )

  it.live("the published pointer names the collection, whose entries are named by hash only", () =>
    Effect.gen(function* () {
      const { alice, repo } = yield* setup
      const a = yield* repo.write("a secret name.txt", Stream.make(utf8.encode("one")))
      const b = yield* repo.write("b.txt", Stream.make(utf8.encode("two")))
      const pointer = Option.getOrThrow(yield* repo.pointer)
      assert.strictEqual(pointer.seq, 1)
      const entries = yield* alice.store.readCollection(pointer.root)
      assert.deepStrictEqual(
        entries.map((e) => e.name).sort(),
        [a.hash, b.hash, pointer.manifest].sort(),
      )
      for (const e of entries) assert.strictEqual(e.name, e.hash)
      // Only the current root is kept: the first write's collection and manifest are gone.
      assert.deepStrictEqual(
        (yield* alice.store.list()).map((r) => r.hash),
        [pointer.root],
      )
    }).pipe(Effect.scoped),
  )

  it.live("overwriting a name replaces its blob and frees the old one", () =>
    Effect.gen(function* () {
      const { alice, repo } = yield* setup
      const first = yield* repo.write("f", Stream.make(utf8.encode("first version")))
      const second = yield* repo.write("f", Stream.make(utf8.encode("second version")))
      assert.notStrictEqual(first.hash, second.hash)
      assert.strictEqual(second.createdAt, first.createdAt)
      assert.isFalse(yield* alice.store.has(first.hash))
      assert.deepStrictEqual(
        new TextDecoder().decode(yield* bytesOf(repo.read("f"))),
        "second version",
      )
    }).pipe(Effect.scoped),
  )

  it.live("a write given times records them instead of now (a file moved from another repo)", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const times = { createdAt: 1_600_000_000_000, modifiedAt: 1_700_000_000_000 }
      const written = yield* repo.write("old.txt", Stream.make(utf8.encode("kept")), times)
      assert.deepInclude(written, times)
      assert.deepInclude(
        (yield* repo.list()).find((f) => f.name === "old.txt"),
        times,
      )
    }).pipe(Effect.scoped),
  )

  it.live("delete drops the name, frees the blob and publishes a new root", () =>
    Effect.gen(function* () {
      const { alice, repo } = yield* setup
      const kept = yield* repo.write("kept", Stream.make(pattern(50_000, 1)))
      const gone = yield* repo.write("gone", Stream.make(pattern(50_000, 2)))
      const before = Option.getOrThrow(yield* repo.pointer)
      yield* repo.delete("gone")
      const after = Option.getOrThrow(yield* repo.pointer)
      assert.strictEqual(after.seq, before.seq + 1)
      assert.isFalse(yield* alice.store.has(gone.hash))
      assert.isFalse(yield* alice.store.has(before.root))
      assert.isFalse(yield* alice.store.has(before.manifest))
      assert.isTrue(yield* alice.store.has(kept.hash))
      assert.deepStrictEqual(
        (yield* repo.list()).map((f) => f.name),
        ["kept"],
      )
      const readGone = yield* failureOf(bytesOf(repo.read("gone")))
      assert.strictEqual(readGone._tag, "FileNotFound")
      const deleteAgain = yield* failureOf(repo.delete("gone"))
      assert.strictEqual(deleteAgain._tag, "FileNotFound")
    }).pipe(Effect.scoped),
  )

  it.live("a failing input leaves nothing behind: no blob, no new root, the old pointer", () =>
    Effect.gen(function* () {
      const { alice, repo } = yield* setup
      yield* repo.write("before", Stream.make(utf8.encode("x")))
      const pointer = yield* repo.pointer
      const roots = yield* alice.store.list()
      const input = Stream.concat(
        Stream.make(pattern(40_000)),
        Stream.fail("disk unplugged" as const),
      )
      const failure = yield* failureOf(repo.write("broken", input))
      assert.strictEqual(failure, "disk unplugged")
      assert.deepStrictEqual(yield* repo.pointer, pointer)
      assert.deepStrictEqual(yield* alice.store.list(), roots)
      assert.deepStrictEqual(
        (yield* repo.list()).map((f) => f.name),
        ["before"],
      )
    }).pipe(Effect.scoped),
  )

  it.live("openMine from stored credentials continues the repo", () =>
    Effect.gen(function* () {
      const { alice, group, repo } = yield* setup
      yield* repo.write("one", Stream.make(utf8.encode("1")))
      const credentials = Option.getOrThrow(repo.credentials)
      const again = yield* alice.repos.openMine(group, credentials)
      assert.isTrue(again.writable)
      yield* again.write("two", Stream.make(utf8.encode("2")))
      assert.deepStrictEqual(
        (yield* again.list()).map((f) => f.name),
        ["one", "two"],
      )
      assert.strictEqual(Option.getOrThrow(yield* again.pointer).seq, 1)
    }).pipe(Effect.scoped),
  )

  it.live("the group points at the member's repo, and the record has its name", () =>
    Effect.gen(function* () {
      const { group, repo } = yield* setup
      const repos = yield* group.repos
      assert.deepStrictEqual(
        repos.map((r) => [r.slot, r.repoKey, r.memberName]),
        [[0, repo.key, "Alice"]],
      )
      assert.strictEqual(yield* repo.name, "Alice")
      assert.strictEqual(RepoRecord.name, "data-repo")
    }).pipe(Effect.scoped),
  )
})

describe("decryption", () => {
  it.live("a wrong file key gives DecryptFailed for the manifest and for a file", () =>
    Effect.gen(function* () {
      const { alice, group, repo } = yield* setup
      yield* repo.write("f", Stream.make(pattern(100_000)))
      const wrongKey = yield* SecretKey.generate
      const wrong = { ...group, fileKey: Effect.succeed(wrongKey) }
      const withWrongKey = yield* alice.repos.open(wrong, repo.key)
      const manifest = yield* failureOf(withWrongKey.list())
      assert.strictEqual(manifest._tag, "DecryptFailed")
      assert.strictEqual(manifest._tag === "DecryptFailed" && manifest.what, "manifest")
      // The manifest opens with the right key; the file is then read with the wrong one.
      const keys = { current: group.fileKey }
      const switching = { ...group, fileKey: Effect.suspend(() => keys.current) }
      const theirs = yield* alice.repos.open(switching, repo.key)
      yield* theirs.list()
      keys.current = Effect.succeed(wrongKey)
      const file = yield* failureOf(bytesOf(theirs.read("f")))
      assert.strictEqual(file._tag, "DecryptFailed")
      assert.strictEqual(file._tag === "DecryptFailed" && file.what, "file")
    }).pipe(Effect.scoped),
  )
})

describe("tiers", () => {
  it.live("a read-tier member cannot create a repo or write another's", () =>
    Effect.gen(function* () {
      const { repo, join } = yield* setup
      yield* repo.write("photo", Stream.make(utf8.encode("pixels")))
      const carol = yield* join("read")
      const created = yield* failureOf(carol.repos.create(carol.group, { name: "Carol" }))
      assert.strictEqual(created._tag, "NotWritable")
      const theirs = yield* carol.repos.open(carol.group, repo.key)
      assert.isFalse(theirs.writable)
      const written = yield* failureOf(theirs.write("x", Stream.make(utf8.encode("no"))))
      assert.strictEqual(written._tag, "NotWritable")
      const deleted = yield* failureOf(theirs.delete("photo"))
      assert.strictEqual(deleted._tag, "NotWritable")
    }).pipe(Effect.scoped),
  )

  it.live("a write member cannot write another member's repo, through the API or around it", () =>
    Effect.gen(function* () {
      const { repo, join } = yield* setup
      yield* repo.write("photo", Stream.make(utf8.encode("pixels")))
      const bob = yield* join("write", "Bob")
      yield* bob.repos.create(bob.group, { name: "Bob" })
      const theirs = yield* bob.repos.open(bob.group, repo.key)
      assert.isFalse(theirs.writable)
      assert.strictEqual(
        (yield* failureOf(theirs.write("x", Stream.make(utf8.encode("no")))))._tag,
        "NotWritable",
      )
      assert.strictEqual((yield* failureOf(theirs.delete("photo")))._tag, "NotWritable")
      // Around the API, with a writer key of his own: the DHT refuses every subkey.
      const raw = yield* bob.records.open(RepoRecord, repo.key, {
        encryptionKey: bob.group.keys.dhtValues,
        writer: yield* bob.records.generateKeyPair,
      })
      // Alice's own values, written back unchanged: only the writer differs.
      const info = Option.getOrThrow(yield* raw.get(0)).value
      const manifest = Option.getOrThrow(yield* raw.get(1)).value
      assert.strictEqual((yield* failureOf(raw.set(0, info)))._tag, "RecordNotWritable")
      assert.strictEqual((yield* failureOf(raw.set(1, manifest)))._tag, "RecordNotWritable")
      assert.deepStrictEqual(
        (yield* repo.list()).map((f) => f.name),
        ["photo"],
      )
    }).pipe(Effect.scoped),
  )

  it.live(
    "a write member opens another's repo, lists it and reads identical bytes fetched from the owner",
    () =>
      Effect.gen(function* () {
        const { alice, repo, join } = yield* setup
        const bytes = pattern(200_000, 3)
        const written = yield* repo.write("video.mp4", chunked(bytes))
        const bob = yield* join("write", "Bob")
        const pointers = yield* bob.group.repos
        const theirs = yield* bob.repos.open(bob.group, pointers[0]?.repoKey ?? "")
        const sources = [yield* alice.store.source()]
        const missing = yield* failureOf(theirs.list())
        assert.strictEqual(missing._tag, "NotLocal")
        const files = yield* theirs.list({ sources })
        assert.deepStrictEqual(
          files.map((f) => [f.name, f.hash, f.owner, f.status]),
          [["video.mp4", written.hash, "Alice", "remote-only"]],
        )
        assert.deepStrictEqual(yield* bytesOf(theirs.read("video.mp4", { sources })), bytes)
        assert.strictEqual((yield* theirs.list())[0]?.status, "local")
        yield* theirs.unpin("video.mp4")
        assert.isFalse(yield* bob.store.has(written.hash))
        yield* theirs.pin("video.mp4", { sources })
        assert.isTrue(yield* bob.store.has(written.hash))
        // Bob's own repo is his alone.
        const mine = yield* bob.repos.create(bob.group, { name: "Bob" })
        yield* mine.write("b", Stream.make(utf8.encode("bob's")))
        assert.strictEqual((yield* bob.group.repos).length, 2)
      }).pipe(Effect.scoped),
  )

  it.live("a replicate holder sees hashes and sizes, never names or contents", () =>
    Effect.gen(function* () {
      const { alice, repo, join } = yield* setup
      const secretName = "tax return 2026.pdf"
      const content = utf8.encode("very private numbers ".repeat(2000))
      const written = yield* repo.write(secretName, Stream.make(content))
      const dave = yield* join("replicate")
      const theirs = yield* dave.repos.open(dave.group, repo.key)
      const blobs = yield* theirs.blobs({ sources: [yield* alice.store.source()] })
      const pointer = Option.getOrThrow(yield* theirs.pointer)
      assert.deepStrictEqual(
        blobs.map((b) => b.hash).sort(),
        [written.hash, pointer.manifest].sort(),
      )
      assert.strictEqual(blobs.find((b) => b.hash === written.hash)?.size, written.storedSize)
      for (const blob of blobs) {
        const stored = yield* bytesOf(dave.store.read(blob.hash))
        assert.isFalse(contains(stored, utf8.encode(secretName)))
        assert.isFalse(contains(stored, content.subarray(0, 40)))
      }
      assert.strictEqual((yield* failureOf(theirs.list()))._tag, "InsufficientCapability")
      assert.strictEqual(
        (yield* failureOf(bytesOf(theirs.read(secretName))))._tag,
        "InsufficientCapability",
      )
    }).pipe(Effect.scoped),
  )
})
