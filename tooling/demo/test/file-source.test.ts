import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { checkFile } from "../src/file-source.ts"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "demo-file-source-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
)

it.effect("a missing path or a directory is refused before anything starts", () =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const missing = yield* Effect.flip(checkFile({ _tag: "Path", path: join(dir, "nope") }))
    expect(missing.message).toMatch(/^cannot read .*nope: ENOENT/)
    const directory = yield* Effect.flip(checkFile({ _tag: "Path", path: dir }))
    expect(directory.message).toBe(`${dir} is not a file`)
  }),
)
