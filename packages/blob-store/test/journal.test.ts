// An add cut off by kill -9 after Iroh stored its bytes under a temporary tag, before the
// blob was pinned: the next start frees those bytes before the store is used, not Iroh's
// GC a minute later. The crash is reproduced by hand: the node adds the file under the
// tag with the journal written as `addFile` writes it, and is closed without pinning.
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { IrohNode, Raw } from "../src/iroh-node.ts"
import { makeIroh } from "../src/iroh-store.ts"
import { tempDir, testConfig } from "./iroh-helpers.ts"

const dataFiles = (dir: string) =>
  Effect.promise(async () => {
    const files = await fs.readdir(path.join(dir, "iroh", "blobs", "data")).catch(() => [])
    return files.filter((f) => f.endsWith(".data")).map((f) => f.slice(0, 64))
  })

it.live(
  "a blob an add stored under its journaled temp tag before the crash is gone once the store is open again; a pinned one with the same journal stays",
  () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // No GC during the test: only the start-up recovery may free anything.
      const config = testConfig(dir, { gcIntervalMillis: 3_600_000 })
      const kept = yield* Effect.scoped(
        Effect.flatMap(makeIroh(config), (store) => store.addBytes(randomBytes(100_000))),
      )
      const cut = yield* Effect.scoped(
        Effect.gen(function* () {
          const node = yield* IrohNode.start(config)
          const file = path.join(node.tmpDir, "in-cut")
          yield* Effect.promise(() => fs.writeFile(file, randomBytes(200_000)))
          const { hash } = yield* node.addFromPath(file, "sd/tmp/add-cut")
          // The same for a blob that is pinned: a root holds it, so it is kept.
          assert.isTrue(yield* node.tagLocal(kept, Raw, "sd/tmp/add-again"))
          for (const [id, hashes] of [
            ["add-cut", [hash]],
            ["add-again", [kept]],
          ] as const)
            yield* Effect.promise(() =>
              fs.writeFile(
                path.join(node.pendingDir, id),
                JSON.stringify({ tags: [`sd/tmp/${id}`], hashes }),
              ),
            )
          yield* node.sync()
          return hash
        }),
      )
      assert.includeMembers(yield* dataFiles(dir), [cut, kept])

      const after = yield* Effect.scoped(
        Effect.gen(function* () {
          const store = yield* makeIroh(config)
          return {
            files: yield* dataFiles(dir),
            cut: yield* store.has(cut),
            kept: yield* store.has(kept),
            pending: yield* Effect.promise(() => fs.readdir(path.join(dir, "pending"))),
          }
        }),
      )
      assert.deepStrictEqual(after, { files: [kept], cut: false, kept: true, pending: [] })
    }),
  { timeout: 60_000 },
)
