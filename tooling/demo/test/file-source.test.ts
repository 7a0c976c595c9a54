import { randomBytes } from "node:crypto"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { checkFile, fileName, fileStream } from "../src/file-source.ts"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "demo-file-source-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
)

it.effect("random files have exactly the size asked for, in pieces of at most 256 KiB", () =>
  Effect.gen(function* () {
    for (const bytes of [1, 262_144, 700_001]) {
      const pieces = yield* Stream.runCollect(fileStream({ _tag: "Random", bytes }))
      expect(pieces.reduce((n, p) => n + p.length, 0)).toBe(bytes)
      expect(pieces.every((p) => p.length <= 262_144)).toBe(true)
    }
    expect(fileName({ _tag: "Random", bytes: 5 })).toBe("random-5.bin")
  }),
)

it.effect("a file on disk streams its exact bytes, and is named by its base name", () =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const path = join(dir, "notes.bin")
    const content = new Uint8Array(randomBytes(600_000))
    yield* Effect.promise(() => writeFile(path, content))
    yield* checkFile({ _tag: "Path", path })
    const read = yield* Stream.mkUint8Array(fileStream({ _tag: "Path", path }))
    expect(Buffer.compare(read, content)).toBe(0)
    expect(fileName({ _tag: "Path", path })).toBe("notes.bin")
  }),
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
