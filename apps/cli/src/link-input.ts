// Invite, pairing and backup links are keys: one typed as an argument shows in `ps` and
// stays in the shell's history. `-` in its place reads it from stdin instead.
import { createInterface } from "node:readline"
import { Effect } from "effect"
import { Argument } from "effect/cli"
import { UsageError } from "./errors.ts"
import type { Output } from "./output.ts"

/** A `link` argument that also takes `-` (read from stdin). */
export const linkArgument = (what: string) =>
  Argument.String("link").pipe(
    Argument.withDescription(`${what}, or - to read it from stdin (kept out of ps and history)`),
  )

/** A terminal gives one pasted line; a pipe or file is read to its end. */
const readStdin = (output: Output): Promise<string> => {
  if (process.stdin.isTTY === true) {
    output.err("paste the link, then press Enter:")
    const lines = createInterface({ input: process.stdin, terminal: false })
    return new Promise((resolve) => {
      lines.once("line", (line) => {
        lines.close()
        resolve(line)
      })
      lines.once("close", () => resolve(""))
    })
  }
  return new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    process.stdin.on("data", (chunk: Buffer) => chunks.push(chunk))
    process.stdin.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    process.stdin.once("error", reject)
  })
}

/**
 * The link itself: `given`, or stdin's content (trimmed) when `given` is `-`. A link given
 * as an argument works, with a one-line note on stderr saying how to keep it private.
 */
export const readLink = (
  given: string,
  output: Output,
  command: string,
): Effect.Effect<string, UsageError> => {
  if (given !== "-") {
    output.err(
      `note: a link given as an argument shows in \`ps\` and your shell history; \`${command} -\` reads it from stdin`,
    )
    return Effect.succeed(given)
  }
  return Effect.tryPromise({
    try: () => readStdin(output),
    catch: (cause) => new UsageError({ message: `could not read the link from stdin: ${cause}` }),
  }).pipe(
    Effect.map((text) => text.trim()),
    Effect.filterOrFail(
      (link) => link !== "",
      () => new UsageError({ message: "no link on stdin (`-` reads the link from stdin)" }),
    ),
  )
}
