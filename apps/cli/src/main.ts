import { createRequire } from "node:module"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { isApiErrorTag } from "@save-dweb/client"
import { Cause, Effect, Exit, Option } from "effect"
import { Command } from "effect/cli"
import { isCliError } from "effect/cli/CliError"
import { cli } from "./cli.ts"
import { ExitCode, exitCodeOfApiError, hintOfApiError } from "./exit-codes.ts"

/** The package's version (set by `changeset version`), read from its package.json. */
export const VERSION: string = (
  createRequire(import.meta.url)("../package.json") as { version: string }
).version

const json = process.argv.includes("--json")

/** Prints an error for people (stderr) and, with --json, for scripts (stdout). */
const report = (tag: string, message: string, hint?: string) => {
  process.stderr.write(`error: ${message}\n${hint === undefined ? "" : `hint: ${hint}\n`}`)
  if (json) process.stdout.write(`${JSON.stringify({ error: tag, message })}\n`)
}

/** The exit code for how the command ended, after saying why. */
export const exitCodeOf = (exit: Exit.Exit<void, unknown>): number => {
  if (Exit.isSuccess(exit)) return ExitCode.Ok
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isNone(failure)) {
    if (Cause.hasInterruptsOnly(exit.cause)) return 130
    process.stderr.write(
      `unexpected failure (a bug; please report it):\n${Cause.pretty(exit.cause)}\n`,
    )
    return ExitCode.Failure
  }
  const error = failure.value as { _tag?: string; message?: string }
  const tag = error._tag ?? "Error"
  const message = error.message ?? String(error)
  if (isCliError(error)) return ExitCode.Usage // already rendered with the usage
  if (isApiErrorTag(tag)) {
    report(tag, message, hintOfApiError(tag))
    return exitCodeOfApiError(tag)
  }
  switch (tag) {
    case "DaemonNotRunning":
      report(tag, message)
      return ExitCode.DaemonUnavailable
    case "TransportError":
      report(
        tag,
        `cannot talk to the daemon: ${message}`,
        "Is it running? `save-dweb daemon status`",
      )
      return ExitCode.DaemonUnavailable
    case "DaemonStartFailed":
      report(tag, message, `its last log lines:\n${(error as { log?: string }).log ?? ""}`)
      return ExitCode.DaemonUnavailable
    case "UsageError":
      report(tag, message)
      return ExitCode.Usage
    case "LocalFileError":
      report(tag, message)
      return ExitCode.Refused
    default:
      report(tag, message)
      return ExitCode.Failure
  }
}

// A reader that stops early (`save-dweb api openapi | head`) is not a failure of ours.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error
  process.exit(process.exitCode ?? 0)
})

const program = Command.runWith(cli, { version: VERSION })(process.argv.slice(2)).pipe(
  Effect.provide(NodeServices.layer),
)

Effect.runPromiseExit(program).then((exit) => {
  process.exitCode = exitCodeOf(exit)
})
