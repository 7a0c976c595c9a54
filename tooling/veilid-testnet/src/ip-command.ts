// iproute2 is the only system tool the testnet needs.
import { execFile, execFileSync } from "node:child_process"
import { Data } from "effect"

export class IpCommandError extends Data.TaggedError("IpCommandError")<{
  readonly args: ReadonlyArray<string>
  readonly message: string
}> {}

const describe = (args: ReadonlyArray<string>, error: unknown): IpCommandError => {
  const stderr =
    typeof error === "object" && error !== null && "stderr" in error
      ? String((error as { stderr: unknown }).stderr).trim()
      : ""
  const code =
    typeof error === "object" && error !== null && "code" in error
      ? String((error as { code: unknown }).code)
      : ""
  const detail =
    code === "ENOENT" ? "the `ip` command (iproute2) is not installed" : stderr || String(error)
  return new IpCommandError({ args, message: `ip ${args.join(" ")}: ${detail}` })
}

/** Runs `ip args...`; throws an IpCommandError with ip's own message on failure. */
export const ipSync = (args: ReadonlyArray<string>): string => {
  try {
    return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  } catch (error) {
    throw describe(args, error)
  }
}

export const ip = (args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile("ip", args, { encoding: "utf8" }, (error, stdout, stderr) => {
      if (error) reject(describe(args, Object.assign(error, { stderr })))
      else resolve(stdout)
    })
  })
