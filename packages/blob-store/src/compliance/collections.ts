// Collections (Iroh's format), deleting roots and what they hold, exporting to files.
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { encodeCollection } from "../collection.ts"
import { type BlobHash, blake3 } from "../hash.ts"
import {
  bytesOf,
  type ComplianceIt,
  ComplianceStores,
  equalBytes,
  knownCollection,
  text,
} from "./support.ts"

export const collectionTests = (it: ComplianceIt, timeout: number) => {
  it.effect(
    "collections have Iroh's hash, read back sorted by name, and update to a new root",
    () =>
      Effect.gen(function* () {
        const { a } = yield* ComplianceStores
        const entries = []
        for (const e of [...knownCollection.entries].reverse())
          entries.push({ name: e.name, hash: yield* a.addBytes(text(e.text)) })
        const root = yield* a.createCollection(entries)
        assert.strictEqual(root, knownCollection.root)
        const read = yield* a.readCollection(root)
        assert.deepStrictEqual(
          read.map((e) => e.name),
          knownCollection.entries.map((e) => e.name),
        )
        const extra = yield* a.addBytes(bytesOf(2000))
        const next = yield* a.updateCollection(root, {
          set: [{ name: "extra", hash: extra }],
          remove: ["dir/b"],
        })
        const expected = yield* Effect.promise(() =>
          encodeCollection([
            { name: "a.txt", hash: knownCollection.hello as BlobHash },
            { name: "extra", hash: extra },
            { name: "ünï", hash: knownCollection.hello as BlobHash },
          ]),
        )
        assert.strictEqual(next, expected.root)
        const roots = yield* a.list()
        assert.isTrue(roots.some((r) => r.hash === next && r.kind === "collection"))
        assert.isFalse(
          roots.some((r) => r.hash === root),
          "update replaces the old root",
        )
        assert.isFalse(
          roots.some((r) => r.hash === extra),
          "a collection takes over its members' pins",
        )
        yield* a.delete(next)
      }),
    timeout,
  )

  it.effect(
    "a collection refuses unknown members, unsafe or duplicate names",
    () =>
      Effect.gen(function* () {
        const { a } = yield* ComplianceStores
        const known = yield* a.addBytes(bytesOf(100))
        const unknown = yield* Effect.promise(() => blake3(bytesOf(100)))
        const missing = yield* Effect.flip(a.createCollection([{ name: "x", hash: unknown }]))
        assert.strictEqual(missing._tag, "BlobNotFound")
        for (const name of ["../x", "/abs", "a//b", "", "a/./b", "nul\0"]) {
          const bad = yield* Effect.flip(a.createCollection([{ name, hash: known }]))
          assert.strictEqual(bad._tag, "InvalidCollection", name)
        }
        const dup = yield* Effect.flip(
          a.createCollection([
            { name: "x", hash: known },
            { name: "x", hash: known },
          ]),
        )
        assert.strictEqual(dup._tag, "InvalidCollection")
        yield* a.delete(known)
      }),
    timeout,
  )

  it.effect(
    "delete frees a root and the members nothing else holds, and is idempotent",
    () =>
      Effect.gen(function* () {
        const { a } = yield* ComplianceStores
        const solo = yield* a.addBytes(bytesOf(50_000))
        assert.deepStrictEqual((yield* a.delete(solo)).freed, [solo])
        assert.isFalse(yield* a.has(solo))
        assert.deepStrictEqual((yield* a.delete(solo)).freed, [])

        const shared = yield* a.addBytes(bytesOf(40_000))
        const onlyInFirst = yield* a.addBytes(bytesOf(40_000))
        const first = yield* a.createCollection([
          { name: "shared", hash: shared },
          { name: "mine", hash: onlyInFirst },
        ])
        const second = yield* a.createCollection([{ name: "shared", hash: shared }])
        const freed = yield* a.delete(first)
        assert.isTrue(freed.freed.includes(first))
        assert.isTrue(freed.freed.includes(onlyInFirst))
        assert.isFalse(freed.freed.includes(shared))
        assert.isFalse(yield* a.has(onlyInFirst))
        assert.isTrue(yield* a.has(shared))
        assert.deepStrictEqual(
          (yield* a.readCollection(second)).map((e) => e.hash),
          [shared],
        )
        yield* a.delete(second)
        assert.isFalse(yield* a.has(shared))
        assert.isFalse((yield* a.list()).some((r) => r.hash === second || r.hash === first))
      }),
    timeout,
  )

  it.effect(
    "export writes a blob to a file and a collection to a directory tree",
    () =>
      Effect.gen(function* () {
        const { a } = yield* ComplianceStores
        const big = bytesOf(200_000)
        const small = bytesOf(300)
        const root = yield* a.createCollection([
          { name: "big.bin", hash: yield* a.addBytes(big) },
          { name: "sub/small.bin", hash: yield* a.addBytes(small) },
        ])
        const dir = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "blob-store-")))
        yield* Effect.addFinalizer(() =>
          Effect.promise(() => fs.rm(dir, { recursive: true, force: true })),
        )
        yield* a.exportCollection(root, path.join(dir, "out"))
        assert.isTrue(
          equalBytes(yield* Effect.promise(() => fs.readFile(path.join(dir, "out/big.bin"))), big),
        )
        assert.isTrue(
          equalBytes(
            yield* Effect.promise(() => fs.readFile(path.join(dir, "out/sub/small.bin"))),
            small,
          ),
        )
        const one = yield* a.addBytes(small)
        yield* a.exportBlob(one, path.join(dir, "one"))
        assert.isTrue(
          equalBytes(yield* Effect.promise(() => fs.readFile(path.join(dir, "one"))), small),
        )
        yield* a.delete(root)
      }),
    timeout,
  )
}
