import { spawn } from "node:child_process"
import * as path from "node:path"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { tempDir } from "./iroh-helpers.ts"

const child = path.join(import.meta.dirname, "fixtures", "shutdown-child.ts")
// Workspace packages resolve to their sources, as in the test run itself.
const nodeArgs = ["--conditions=@save-dweb/source"]

it.live(
  "a process that closes its store exits by itself, even with a connection attempt to a stranger pending",
  () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const started = Date.now()
      const { code, stdout, stderr } = yield* Effect.callback<{
        code: number | null
        stdout: string
        stderr: string
      }>((resume) => {
        const proc = spawn(process.execPath, [...nodeArgs, child, dir], {
          stdio: ["ignore", "pipe", "pipe"],
        })
        let stdout = ""
        let stderr = ""
        proc.stdout.on("data", (d) => {
          stdout += d
        })
        proc.stderr.on("data", (d) => {
          stderr += d
        })
        const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000)
        proc.on("exit", (code) => {
          clearTimeout(timer)
          resume(Effect.succeed({ code, stdout, stderr }))
        })
      })
      assert.strictEqual(code, 0, stderr)
      assert.include(stdout, "fetch: AllSourcesFailed")
      assert.include(stdout, "closed after")
      assert.isBelow(Date.now() - started, 25_000)
    }),
  40_000,
)
