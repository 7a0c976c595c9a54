// `save-dweb api openapi|docs`: the API's description, read with the token.
import { writeFile } from "node:fs/promises"
import { resolve } from "node:path"
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { LocalFileError } from "../errors.ts"
import { emit, formatBytes, type Output } from "../output.ts"
import { session } from "./common.ts"

const describedOutput = Flag.String("output").pipe(
  Flag.withAlias("o"),
  Flag.withDescription("write it to this file, replacing it (default: stdout)"),
  Flag.optional,
)

/**
 * Prints `text` on stdout (with --json: `json`, one JSON document) or writes it to the
 * file `-o` names and says where.
 */
const saveOrPrint = (
  out: Output,
  output: Option.Option<string>,
  text: string,
  json: unknown,
  what: string,
) =>
  Effect.gen(function* () {
    if (Option.isNone(output) || output.value === "-") {
      out.out(out.json ? JSON.stringify(json, null, 2) : text.trimEnd())
      return
    }
    const path = resolve(output.value)
    yield* Effect.tryPromise({
      try: () => writeFile(path, text),
      catch: (cause) =>
        new LocalFileError({
          message: `cannot write ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
        }),
    })
    emit(
      out,
      { output: path, bytes: Buffer.byteLength(text) },
      (r) => `saved the ${what} (${formatBytes(r.bytes)}) to ${r.output}`,
    )
  })

const apiOpenapi = Command.make("openapi", { output: describedOutput }, (f) =>
  session(({ client, out }) =>
    Effect.flatMap(client.openapi, (doc) =>
      saveOrPrint(out, f.output, `${JSON.stringify(doc, null, 2)}\n`, doc, "OpenAPI document"),
    ),
  ),
).pipe(Command.withDescription("the daemon API's OpenAPI document (JSON), read with the token"))

const apiDocs = Command.make("docs", { output: describedOutput }, (f) =>
  session(({ client, out }) =>
    Effect.flatMap(client.docs, (html) =>
      saveOrPrint(out, f.output, html, { html }, "API docs page"),
    ),
  ),
).pipe(Command.withDescription("the daemon API's docs page (HTML), read with the token"))

export const api = Command.make("api").pipe(
  Command.withDescription("the daemon's HTTP API: its OpenAPI document and docs page"),
  Command.withSubcommands([apiOpenapi, apiDocs]),
)
