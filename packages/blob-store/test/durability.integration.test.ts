// `flush` is a durability barrier: a process killed with -9 right after it keeps what it
// stored. Iroh's store commits writes in batches (up to 500 ms later), so without the
// barrier the same kill can lose a collection that Iroh had already answered for.
import { spawn } from "node:child_process"
import * as path from "node:path"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import type { BlobHash } from "../src/index.ts"
import { makeIroh } from "../src/iroh-store.ts"
import { tempDir, testConfig } from "./iroh-helpers.ts"

const child = path.join(import.meta.dirname, "fixtures", "flush-child.ts")
const nodeArgs = ["--conditions=@save-dweb/source"]

interface Stored {
  readonly blob: BlobHash
  readonly small: BlobHash
  readonly root: BlobHash
}

/** Runs the child on `dir` until it prints its hashes, then kills it with SIGKILL. */
export const storeThenKill = (dir: string, mode: "flush" | "no-flush") =>
  Effect.callback<Stored>((resume) => {
    const proc = spawn(process.execPath, [...nodeArgs, child, dir, mode], {
      stdio: ["ignore", "pipe", "inherit"],
    })
    let out = ""
    proc.stdout.on("data", (d) => {
      out += d
      const line = out.split("\n").find((l) => l.startsWith("{"))
      if (line === undefined) return
      proc.kill("SIGKILL")
      proc.once("exit", () => resume(Effect.succeed(JSON.parse(line) as Stored)))
    })
  })

it.live(
  "what was stored before flush survives kill -9: the blob, the small inline one and the collection",
  () =>
    Effect.gen(function* () {
      for (let round = 0; round < 5; round++) {
        const dir = yield* tempDir
        const stored = yield* storeThenKill(dir, "flush")
        const reopened = yield* Effect.scoped(
          Effect.gen(function* () {
            const store = yield* makeIroh(testConfig(dir))
            return {
              blob: yield* store.has(stored.blob),
              small: yield* store.has(stored.small),
              roots: (yield* store.list()).map((r) => `${r.kind}:${r.hash}`),
            }
          }),
        )
        assert.deepStrictEqual(reopened, {
          blob: true,
          small: true,
          roots: [`collection:${stored.root}`],
        })
      }
    }),
  120_000,
)
