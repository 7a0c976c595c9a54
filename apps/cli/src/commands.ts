import { createWriteStream, existsSync, statSync } from "node:fs"
import { writeFile } from "node:fs/promises"
import { basename, resolve } from "node:path"
import { Writable } from "node:stream"
import type { FileInfo, RpcClient, ServerEvent } from "@save-dweb/client"
import { Console, Data, Effect, Fiber, Option, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { backupCommand } from "./backup-commands.ts"
import { startDaemon, stopDaemon } from "./daemon-control.ts"
import { emit, formatBytes, type Output, progressBar, table } from "./output.ts"
import { dataDirOf, resolveGroup, withSession } from "./session.ts"

/** A mistake in what the person typed that the server never sees. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** A local file problem: output exists, input missing. */
export class LocalFileError extends Data.TaggedError("LocalFileError")<{
  readonly message: string
}> {}

const root = Command.make("save-dweb").pipe(
  Command.withSharedFlags({
    dataDir: Flag.Directory("data-dir", { mustExist: false }).pipe(
      Flag.withDescription(
        "the daemon's data dir (default $SAVE_DWEB_DATA_DIR or ~/.local/share/save-dweb)",
      ),
      Flag.optional,
    ),
    url: Flag.String("url").pipe(
      Flag.withDescription("talk to the daemon at this URL (http://HOST:PORT or unix:/path.sock)"),
      Flag.optional,
    ),
    token: Flag.String("token").pipe(
      Flag.withDescription("bearer token (default: DATA_DIR/rpc-token)"),
      Flag.optional,
    ),
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("print one JSON document (for scripts)"),
      Flag.withDefault(false),
    ),
  }),
  Command.withDescription("save-dweb: private peer-to-peer file sharing in groups"),
)

// A subcommand reads the shared flags by yielding the root command (its context is provided
// to every subcommand handler).
const flags = root

const session = <A, E>(f: Parameters<typeof withSession<A, E>>[1]) =>
  Effect.flatMap(flags, (common) => withSession(common, f))

const groupArg = Argument.String("group").pipe(Argument.withDescription("group key or name"))
const repoFlag = Flag.String("repo").pipe(
  Flag.withDescription("repo key (default: search every repo, own first)"),
  Flag.optional,
)

// --- daemon -----------------------------------------------------------------------

const daemonFlags = {
  listen: Flag.String("listen").pipe(
    Flag.withDescription("HOST:PORT or unix:/path.sock"),
    Flag.optional,
  ),
  network: Flag.String("network").pipe(
    Flag.withDescription("public | testnet[:NODE] | config:/path/veilid.json"),
    Flag.optional,
  ),
  config: Flag.String("config").pipe(Flag.withDescription("daemon config file"), Flag.optional),
  logLevel: Flag.String("log-level").pipe(Flag.optional),
  attachTimeout: Flag.String("attach-timeout").pipe(
    Flag.withDescription("seconds attaching to the network may take"),
    Flag.optional,
  ),
  syncInterval: Flag.String("sync-interval").pipe(
    Flag.withDescription("background replication: at most one pass per SECS, 0 = only on `sync`"),
    Flag.optional,
  ),
  timeout: Flag.Int("timeout").pipe(
    Flag.withDescription("seconds to wait for the daemon to be ready"),
    Flag.withDefault(360),
  ),
}

const daemonStart = Command.make("start", daemonFlags, (f) =>
  Effect.gen(function* () {
    const common = yield* flags
    const dataDir = dataDirOf(common)
    const passed: Array<string> = []
    const pass = (name: string, value: Option.Option<string>) => {
      if (Option.isSome(value)) passed.push(`--${name}`, value.value)
    }
    pass("listen", f.listen)
    pass("network", f.network)
    pass("config", f.config)
    pass("log-level", f.logLevel)
    pass("sync-interval", f.syncInterval)
    pass("attach-timeout", f.attachTimeout)
    const { state, started, log } = yield* startDaemon({
      dataDir,
      flags: passed,
      timeoutMillis: f.timeout * 1000,
    })
    const result = { started, pid: state.pid, url: state.url, dataDir, log }
    if (common.json) yield* Console.log(JSON.stringify(result, null, 2))
    else
      yield* Console.log(
        started
          ? `daemon started (pid ${state.pid}) at ${state.url}\n  data dir ${dataDir}\n  logs ${log}`
          : `daemon already running (pid ${state.pid}) at ${state.url}`,
      )
  }),
).pipe(Command.withDescription("start the daemon in the background and wait until it is ready"))

const daemonStop = Command.make(
  "stop",
  { timeout: Flag.Int("timeout").pipe(Flag.withDefault(45)) },
  (f) =>
    Effect.gen(function* () {
      const common = yield* flags
      const result = yield* stopDaemon(dataDirOf(common), f.timeout * 1000)
      if (common.json) yield* Console.log(JSON.stringify(result))
      else
        yield* Console.log(
          result.stopped ? `daemon stopped (pid ${result.pid})` : "no daemon was running",
        )
    }),
).pipe(
  Command.withDescription("stop the daemon gracefully (its routes are removed from the network)"),
)

const statusHandler = session(({ client, url, out }) =>
  Effect.gen(function* () {
    const status = yield* client.status
    emit(out, { url, ...status }, (s) =>
      [
        `daemon   ${url}`,
        `veilid   ${s.veilid === null ? "-" : `${s.veilid.state}${s.veilid.publicInternetReady ? ", ready" : ", not ready"}, ${s.veilid.peers} peers`}`,
        `iroh     ${s.iroh === null ? "-" : s.iroh.nodeId}`,
        `groups   ${s.groups.known} known, ${s.groups.loaded} loaded`,
      ].join("\n"),
    )
  }),
)

const daemonStatus = Command.make("status", {}, () => statusHandler).pipe(
  Command.withDescription("is the daemon running, attached, and how many peers and groups"),
)

const daemon = Command.make("daemon").pipe(
  Command.withDescription("start, stop or inspect the background daemon"),
  Command.withSubcommands([daemonStart, daemonStop, daemonStatus]),
)

const status = Command.make("status", {}, () => statusHandler).pipe(
  Command.withDescription("same as `daemon status`"),
)

// --- groups -----------------------------------------------------------------------

const groupCreate = Command.make(
  "create",
  {
    name: Argument.String("name"),
    memberName: Flag.String("member-name").pipe(
      Flag.withDescription("your name in the group"),
      Flag.optional,
    ),
    policy: Flag.Literals("source-policy", ["any", "owner-only"]).pipe(
      Flag.withDescription("who may serve a member's files: any member, or only its owner"),
      Flag.optional,
    ),
  },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const created = yield* client.groups.create({
          name: f.name,
          ...(Option.isSome(f.memberName) ? { memberName: f.memberName.value } : {}),
          ...(Option.isSome(f.policy) ? { sourcePolicy: f.policy.value } : {}),
        })
        emit(
          out,
          created,
          (g) => `created group "${g.name}"\n  key ${g.key}\n  your repo ${g.repo ?? "-"}`,
        )
      }),
    ),
).pipe(Command.withDescription("create a group (you manage it)"))

const groupJoin = Command.make(
  "join",
  {
    link: Argument.String("link").pipe(Argument.withDescription("a save+dweb:invite link")),
    memberName: Flag.String("member-name").pipe(Flag.optional),
  },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const joined = yield* client.groups.join({
          link: f.link,
          ...(Option.isSome(f.memberName) ? { memberName: f.memberName.value } : {}),
        })
        emit(out, joined, (g) => `joined group "${g.name}" as ${g.tier}\n  key ${g.key}`)
      }),
    ),
).pipe(Command.withDescription("join a group from an invite link"))

const groupList = Command.make("list", {}, () =>
  session(({ client, out }) =>
    Effect.gen(function* () {
      const groups = yield* client.groups.list
      emit(out, groups, (gs) =>
        gs.length === 0
          ? "no groups yet: `save-dweb group create NAME` or `save-dweb group join LINK`"
          : table(
              ["NAME", "TIER", "LOADED", "KEY"],
              gs.map((g) => [g.name, g.tier, g.loaded ? "yes" : "no", g.key]),
            ),
      )
    }),
  ),
).pipe(Command.withAlias("ls"), Command.withDescription("the groups this daemon knows"))

const groupShow = Command.make("show", { group: groupArg }, (f) =>
  session(({ client, out }) =>
    Effect.gen(function* () {
      const detail = yield* client.groups.get(yield* resolveGroup(client, f.group))
      emit(out, detail, (g) =>
        [
          `name     ${g.name}`,
          `key      ${g.key}`,
          `tier     ${g.tier}`,
          `slot     ${g.slot ?? "-"}`,
          `sources  ${g.sourcePolicy}`,
          `repo     ${g.repo ?? "-"}`,
        ].join("\n"),
      )
    }),
  ),
).pipe(Command.withDescription("one group's details"))

const groupInvite = Command.make(
  "invite",
  {
    group: groupArg,
    tier: Flag.Literals("tier", ["replicate", "read", "write"]).pipe(
      Flag.withDescription("replicate (backup servers), read, or write (a new member slot)"),
      Flag.withDefault("write"),
    ),
  },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const link = yield* client.groups.invite(yield* resolveGroup(client, f.group), f.tier)
        emit(out, { link, tier: f.tier }, (r) => r.link)
      }),
    ),
).pipe(Command.withDescription("make an invite link (share it privately: it is the key)"))

const groupLeave = Command.make("leave", { group: groupArg }, (f) =>
  session(({ client, out }) =>
    Effect.gen(function* () {
      const key = yield* resolveGroup(client, f.group)
      yield* client.groups.leave(key)
      emit(out, { left: key }, () => `left group ${key}`)
    }),
  ),
).pipe(Command.withDescription("leave a group and forget it here"))

const group = Command.make("group").pipe(
  Command.withDescription("create, join, list, invite to and leave groups"),
  Command.withSubcommands([groupCreate, groupJoin, groupList, groupShow, groupInvite, groupLeave]),
)

const members = Command.make("members", { group: groupArg }, (f) =>
  session(({ client, out }) =>
    Effect.gen(function* () {
      const list = yield* client.groups.members(yield* resolveGroup(client, f.group))
      emit(out, list, (ms) =>
        table(
          ["SLOT", "NAME", "REPO", "YOU"],
          ms.map((m) => [m.slot, m.name, m.repo, m.mine ? "yes" : ""]),
        ),
      )
    }),
  ),
).pipe(Command.withDescription("a group's members"))

const repos = Command.make("repos", { group: groupArg }, (f) =>
  session(({ client, out }) =>
    Effect.gen(function* () {
      const list = yield* client.groups.repos(yield* resolveGroup(client, f.group))
      emit(out, list, (rs) =>
        table(
          ["SLOT", "MEMBER", "NAME", "YOURS", "KEY"],
          rs.map((r) => [r.slot, r.memberName, r.name, r.mine ? "yes" : "", r.key]),
        ),
      )
    }),
  ),
).pipe(Command.withDescription("a group's repos (one per member)"))

// --- files ------------------------------------------------------------------------

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
        emit(out, info, (i) => `added ${i.name} (${formatBytes(i.size)}) hash ${i.hash}`)
      }),
    ),
).pipe(Command.withDescription("add (or replace) a file in your repo: encrypted, then published"))

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
        const download = yield* client.files.download(
          key,
          repo,
          f.name,
          range === undefined ? {} : { range },
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
                x.status,
                x.owner,
                new Date(x.modifiedAt).toISOString(),
              ]),
            ),
      )
    }),
  ),
).pipe(Command.withDescription("files of every repo (or --repo) with local / remote-only status"))

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

const file = Command.make("file").pipe(
  Command.withDescription("add, get, list, delete, pin and unpin files"),
  Command.withSubcommands([fileAdd, fileGet, fileLs, fileRm, pinCommand(true), pinCommand(false)]),
)

// --- sync, events, pairing -----------------------------------------------------------

const sync = Command.make(
  "sync",
  { group: Argument.String("group").pipe(Argument.optional) },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const keys = Option.isSome(f.group)
          ? [yield* resolveGroup(client, f.group.value)]
          : (yield* client.groups.list).map((g) => g.key)
        const bar = progressBar(out, "syncing")
        const progress = yield* Effect.forkChild(
          client.events.pipe(
            Stream.runForEach((e: ServerEvent) =>
              Effect.sync(() => {
                if (e._tag === "SyncProgress" && keys.includes(e.group))
                  bar.update(e.bytesDone, e.bytesTotal)
              }),
            ),
            Effect.ignore,
          ),
        )
        const reports = yield* Effect.forEach(keys, (key) =>
          Effect.map(client.groups.sync(key), (report) => ({ group: key, ...report })),
        ).pipe(Effect.ensuring(Effect.andThen(Fiber.interrupt(progress), Effect.sync(bar.done))))
        emit(out, reports, (rs) =>
          rs
            .map(
              (r) =>
                `${r.group}: ${r.synced.length} repos synced, ${r.failed.length} failed, ${r.freed} blobs freed` +
                r.failed.map((x) => `\n  ${x.repo}: ${x.error} ${x.message}`).join(""),
            )
            .join("\n"),
        )
      }),
    ),
).pipe(Command.withDescription("fetch every member's current files now (one group, or all)"))

const events = Command.make("events", {}, () =>
  session(({ client }) =>
    client.events.pipe(Stream.runForEach((e) => Console.log(JSON.stringify(e)))),
  ),
).pipe(Command.withDescription("print the daemon's events as JSON lines until interrupted"))

const pairMake = Command.make(
  "make",
  { groups: Argument.String("group").pipe(Argument.variadic()) },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const keys = yield* Effect.forEach(f.groups, (g) => resolveGroup(client, g))
        const link = yield* client.pairing.makeLink(keys.length === 0 ? undefined : keys)
        emit(
          out,
          { link },
          (r) =>
            `${r.link}\n\nThis link moves your identity: give it only to your own other device.`,
        )
      }),
    ),
).pipe(Command.withDescription("a pairing link that moves your membership to another device"))

const pairUse = Command.make("use", { link: Argument.String("link") }, (f) =>
  session(({ client, out }) =>
    Effect.gen(function* () {
      const result = yield* client.pairing.pair(f.link)
      emit(
        out,
        result,
        (r) =>
          `this device now holds ${r.groups.length} group(s): ${r.groups.map((g) => g.name ?? g.key).join(", ")}`,
      )
    }),
  ),
).pipe(Command.withDescription("use a pairing link from your other device"))

const pair = Command.make("pair").pipe(
  Command.withDescription("move your membership to another device"),
  Command.withSubcommands([pairMake, pairUse]),
)

// --- the API's description ---------------------------------------------------------

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

const api = Command.make("api").pipe(
  Command.withDescription("the daemon's HTTP API: its OpenAPI document and docs page"),
  Command.withSubcommands([apiOpenapi, apiDocs]),
)

export const cli = root.pipe(
  Command.withSubcommands([
    daemon,
    status,
    group,
    members,
    repos,
    file,
    sync,
    events,
    pair,
    api,
    backupCommand(flags),
  ]),
)
