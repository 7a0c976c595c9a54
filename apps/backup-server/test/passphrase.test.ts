// The server process on a data dir locked with a passphrase: it exits 4 before Veilid
// starts when the passphrase is missing or wrong, and 2 when the file is unusable.
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { unlockStorage } from "@save-dweb/backend"
import { Effect, Redacted } from "effect"

const mainScript = new URL("../src/main.ts", import.meta.url).pathname

/** Runs the server with `args`; its exit code and stderr. */
const runServer = (args: ReadonlyArray<string>) =>
  Effect.callback<{ readonly code: number | null; readonly stderr: string }>((resume) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@save-dweb/source", mainScript, "--network", "public", ...args],
      { stdio: ["ignore", "ignore", "pipe"] },
    )
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d
    })
    child.once("exit", (code) => resume(Effect.succeed({ code, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("save-dweb-backup-server on a locked data dir", () => {
  it.live(
    "exits 4 without the passphrase or with another, 2 with an empty passphrase file",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "backup-passphrase-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true })))
        const data = join(dir, "data")
        yield* unlockStorage(data, Redacted.make(new TextEncoder().encode("correct horse")))
        const wrong = join(dir, "wrong")
        writeFileSync(wrong, "correct horsf\n")
        const empty = join(dir, "empty")
        writeFileSync(empty, "")

        const none = yield* runServer(["--data-dir", data])
        assert.strictEqual(none.code, 4, none.stderr)
        assert.match(none.stderr, /locked with a passphrase: give it with --passphrase-file/)
        const other = yield* runServer(["--data-dir", data, "--passphrase-file", wrong])
        assert.strictEqual(other.code, 4, other.stderr)
        assert.match(other.stderr, /passphrase does not unlock/)
        const unusable = yield* runServer(["--data-dir", data, "--passphrase-file", empty])
        assert.strictEqual(unusable.code, 2, unusable.stderr)
        assert.match(unusable.stderr, /empty/)
      }),
    30_000,
  )
})
