// `save-dweb file add|get|ls|rm|pin|unpin|copies`.
import { createWriteStream, existsSync, statSync } from "node:fs"
import { basename, resolve } from "node:path"
import { Writable } from "node:stream"
import type { FileInfo, RpcClient, ServerEvent } from "@save-dweb/client"
import { Effect, Fiber, Option, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { copiesLine, waitForCopies } from "../copies.ts"
import { LocalFileError, UsageError } from "../errors.ts"
import { emit, fileStatus, formatBytes, progressBar, table } from "../output.ts"
import { resolveGroup } from "../session.ts"
import { groupArg, repoFlag, session } from "./common.ts"

interface Located extends FileInfo {
  readonly repo: string
}

/** Every repo's files, own repo first. */
const allFiles = (client: RpcClient, group: string, repo: Option.Option<string>) =>
  Effect.gen(function* () {
    if (Option.isSome(repo))
      return (yield* client.files.list(group, repo.value)).map(
        (f): Located => ({ ...f, repo: repo.value }),
      )
    const rs = [...(yield* client.groups.repos(group))].sort(
      (a, b) => Number(b.mine) - Number(a.mine),
    )
    const lists = yield* Effect.forEach(
      rs,
      (r) =>
        Effect.map(client.files.list(group, r.key), (fs) =>
          fs.map((f): Located => ({ ...f, repo: r.key })),
        ),
      { concurrency: 4 },
    )
    return lists.flat()
  })

const locate = (client: RpcClient, group: string, name: string, repo: Option.Option<string>) =>
  Effect.gen(function* () {
    if (Option.isSome(repo)) return repo.value
    const found = (yield* allFiles(client, group, repo)).find((f) => f.name === name)
    if (found === undefined)
      return yield* new UsageError({
        message: `no file "${name}" in any repo of the group; \`save-dweb file ls ${group}\` lists them`,
      })
    return found.repo
  })

const fileAdd = Command.make(
  "add",
  {
    group: groupArg,
    path: Argument.File("path", { mustExist: true }),
    name: Flag.String("name").pipe(
      Flag.withDescription("name in the repo (default: the file's name)"),
      Flag.optional,
    ),
    waitCopies: Flag.Int("wait-copies").pipe(
      Flag.withDescription(
        "then wait until N members or backup servers prove they hold a copy off this device",
      ),
      Flag.optional,
    ),
    waitTimeout: Flag.Int("wait-timeout").pipe(
      Flag.withDescription("seconds --wait-copies may take (default 3600)"),
      Flag.withDefault(3600),
    ),
  },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const key = yield* resolveGroup(client, f.group)
        const path = resolve(f.path)
        const size = statSync(path).size
        const name = Option.getOrElse(f.name, () => basename(path))
        const bar = progressBar(out, `uploading ${name}`)
        const info = yield* client.files
          .upload(key, name, path, {
            onProgress: (sent) => Effect.sync(() => bar.update(sent, size)),
          })
          .pipe(Effect.ensuring(Effect.sync(bar.done)))
        if (Option.isNone(f.waitCopies)) {
          emit(out, info, (i) => `added ${i.name} (${formatBytes(i.size)}) hash ${i.hash}`)
          return
        }
        if (!out.json) out.err(`added ${info.name} (${formatBytes(info.size)}) hash ${info.hash}`)
        const copies = yield* waitForCopies(client.files.copies(key, "mine", name), out, {
          name,
          atLeast: f.waitCopies.value,
          timeoutSeconds: f.waitTimeout,
        })
        emit(out, { ...info, copies }, (r) => `${r.name}: ${copiesLine(r.copies)}`)
      }),
    ),
).pipe(Command.withDescription("add (or replace) a file in your repo: encrypted, then published"))

const fileCopies = Command.make(
  "copies",
  { group: groupArg, name: Argument.String("name"), repo: repoFlag },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const key = yield* resolveGroup(client, f.group)
        const repo = yield* locate(client, key, f.name, f.repo)
        const copies = yield* client.files.copies(key, repo, f.name)
        emit(out, copies, (c) =>
          [
            `${c.name}: ${copiesLine(c)}`,
            ...(c.copies.length === 0
              ? []
              : [
                  table(
                    ["HOLDER", "KIND", "STATUS", "SINCE", "VERIFIED"],
                    c.copies.map((x) => [
                      x.name,
                      x.kind,
                      x.status,
                      x.since === null ? null : new Date(x.since).toISOString(),
                      x.verifiedAt === null
                        ? null
                        : `${x.how} ${new Date(x.verifiedAt).toISOString()}`,
                    ]),
                  ),
                ]),
          ].join("\n"),
        )
      }),
    ),
).pipe(
  Command.withDescription(
    "who holds a copy of your file off this device: each member and backup server proves it now",
  ),
)

const parseRange = (text: string) => {
  const m = /^(\d+)-(\d*)$/.exec(text)
  if (m === null) return undefined
  const start = Number(m[1])
  return m[2] === "" ? { start } : { start, end: Number(m[2]) }
}

const fileGet = Command.make(
  "get",
  {
    group: groupArg,
    name: Argument.String("name"),
    repo: repoFlag,
    output: Flag.String("output").pipe(
      Flag.withAlias("o"),
      Flag.withDescription("where to write (default ./NAME; - for stdout)"),
      Flag.optional,
    ),
    range: Flag.String("range").pipe(
      Flag.withDescription("bytes START-END (inclusive) or START-"),
      Flag.optional,
    ),
    force: Flag.Boolean("force").pipe(
      Flag.withDescription("overwrite the output file"),
      Flag.withDefault(false),
    ),
  },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const key = yield* resolveGroup(client, f.group)
        const range = Option.isSome(f.range) ? parseRange(f.range.value) : undefined
        if (Option.isSome(f.range) && range === undefined)
          return yield* new UsageError({
            message: `--range ${f.range.value}: expected START-END or START-`,
          })
        const target = Option.getOrElse(f.output, () => basename(f.name))
        if (target !== "-" && existsSync(target) && !f.force)
          return yield* new LocalFileError({
            message: `${target} exists; use --force to overwrite or -o PATH`,
          })
        const repo = yield* locate(client, key, f.name, f.repo)
        // A file not here is fetched from the members first: shown from the daemon's events.
        const fetching = progressBar(out, `fetching ${f.name}`)
        const fetchEvents = yield* client.subscribe
        const fetchProgress = yield* Effect.forkChild(
          fetchEvents.pipe(
            Stream.runForEach((e: ServerEvent) =>
              Effect.sync(() => {
                if (e._tag === "FileFetchProgress" && e.group === key && e.name === f.name)
                  fetching.update(e.bytesDone, e.bytesTotal)
              }),
            ),
            Effect.ignore,
          ),
        )
        const download = yield* client.files
          .download(key, repo, f.name, range === undefined ? {} : { range })
          .pipe(
            Effect.ensuring(
              Effect.andThen(Fiber.interrupt(fetchProgress), Effect.sync(fetching.done)),
            ),
          )
        const bar = progressBar(out, `downloading ${f.name}`)
        let received = 0
        const sink =
          target === "-" ? process.stdout : createWriteStream(resolve(target), { mode: 0o600 })
        const writable = Writable.toWeb(sink as Writable).getWriter()
        yield* download.bytes.pipe(
          Stream.runForEach((chunk) =>
            Effect.promise(async () => {
              await writable.ready
              await writable.write(chunk)
              received += chunk.length
              bar.update(received, download.end - download.start + 1)
            }),
          ),
          Effect.ensuring(Effect.sync(bar.done)),
        )
        if (target !== "-") yield* Effect.promise(() => writable.close())
        else writable.releaseLock()
        const result = {
          name: f.name,
          repo,
          bytes: received,
          size: download.size,
          output: target === "-" ? null : resolve(target),
        }
        if (target !== "-")
          emit(out, result, (r) => `saved ${r.name} (${formatBytes(r.bytes)}) to ${r.output}`)
      }),
    ),
).pipe(Command.withDescription("download a file (decrypted), fetched from members if not here"))

const fileLs = Command.make("ls", { group: groupArg, repo: repoFlag }, (f) =>
  session(({ client, out }) =>
    Effect.gen(function* () {
      const files = yield* allFiles(client, yield* resolveGroup(client, f.group), f.repo)
      emit(out, files, (fs) =>
        fs.length === 0
          ? "no files"
          : table(
              ["NAME", "SIZE", "STATUS", "OWNER", "MODIFIED"],
              fs.map((x) => [
                x.name,
                formatBytes(x.size),
                fileStatus(x),
                x.owner,
                new Date(x.modifiedAt).toISOString(),
              ]),
            ),
      )
    }),
  ),
).pipe(
  Command.withDescription(
    "files of every repo (or --repo) with local / remote-only status, and pinned when kept by a pin",
  ),
)

const fileRm = Command.make("rm", { group: groupArg, name: Argument.String("name") }, (f) =>
  session(({ client, out }) =>
    Effect.gen(function* () {
      const key = yield* resolveGroup(client, f.group)
      yield* client.files.delete(key, f.name)
      emit(out, { deleted: f.name }, () => `deleted ${f.name}`)
    }),
  ),
).pipe(Command.withDescription("delete a file from your repo (others drop it on their next sync)"))

const pinCommand = (pin: boolean) =>
  Command.make(
    pin ? "pin" : "unpin",
    { group: groupArg, name: Argument.String("name"), repo: repoFlag },
    (f) =>
      session(({ client, out }) =>
        Effect.gen(function* () {
          const key = yield* resolveGroup(client, f.group)
          const repo = yield* locate(client, key, f.name, f.repo)
          yield* pin ? client.files.pin(key, repo, f.name) : client.files.unpin(key, repo, f.name)
          emit(
            out,
            { name: f.name, repo, pinned: pin },
            () => `${pin ? "pinned" : "unpinned"} ${f.name}`,
          )
        }),
      ),
  ).pipe(
    Command.withDescription(
      pin ? "keep a local copy of a member's file" : "drop the local copy of a member's file",
    ),
  )

export const file = Command.make("file").pipe(
  Command.withDescription("add, get, list, delete, pin and unpin files, and see their copies"),
  Command.withSubcommands([
    fileAdd,
    fileGet,
    fileLs,
    fileRm,
    pinCommand(true),
    pinCommand(false),
    fileCopies,
  ]),
)
