// Runs the built `save-dweb` binary (bin/save-dweb.mjs → dist) as a person would. Test code only.
import { spawn } from "node:child_process"
import { join } from "node:path"

export const cliBin = join(import.meta.dirname, "..", "bin", "save-dweb.mjs")

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** `input`, when given, is piped to the CLI's stdin (else stdin is empty). */
export const runCli = (
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv = {},
  input?: string,
): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBin, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...env },
    })
    child.stdin.end(input ?? "")
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d
    })
    child.once("error", reject)
    child.once("close", (code) => resolve({ code, stdout, stderr }))
  })

/** Runs and parses stdout as JSON; fails with the CLI's own words when it did not exit 0. */
export const cliJson = async <A>(args: ReadonlyArray<string>, input?: string): Promise<A> => {
  const r = await runCli([...args, "--json"], {}, input)
  if (r.code !== 0) throw new Error(`save-dweb ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as A
}
