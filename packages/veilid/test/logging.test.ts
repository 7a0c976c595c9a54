import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { enableLogging, makeConfig, makeVeilid } from "../src/index.ts"

// Its own file: logging installs a process-wide tracing subscriber.
const dir = mkdtempSync(join(tmpdir(), "save-dweb-veilid-log-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it.live("forwards veilid-core's logs as Log updates once enabled", () =>
  Effect.gen(function* () {
    yield* enableLogging("#common=debug")
    const config = yield* makeConfig({
      programName: "save-dweb-test",
      namespace: "log",
      storageDir: dir,
      network: "public",
    })
    const veilid = yield* makeVeilid(config, { attach: false })
    const updates = yield* veilid.subscribe
    // A second node's start-up logs plenty at debug level; every running node in
    // the process receives the process's logs.
    const second = yield* makeConfig({
      programName: "save-dweb-test",
      namespace: "log2",
      storageDir: join(dir, "second"),
      network: "public",
    })
    yield* makeVeilid(second, { attach: false })
    const log = yield* updates.pipe(
      Stream.filter((u) => u._tag === "Log"),
      Stream.runHead,
      Effect.timeout("20 seconds"),
    )
    expect(log._tag).toBe("Some")
  }),
)

it.effect("rejects a malformed directive", () =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(enableLogging("=nonsense="))
    expect(error._tag).toBe("VeilidInternal")
  }),
)
