// `save-dweb backup add|list|remove`: a group's copies on backup servers (issue 9).
import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { linkArgument, readLink } from "../link-input.ts"
import { emit, table } from "../output.ts"
import { resolveGroup } from "../session.ts"
import { groupArg, session } from "./common.ts"

const linkArg = linkArgument("the backup server's save+dweb:backup link")

const when = (ms: number | null) => (ms === null ? "never" : new Date(ms).toISOString())

const add = Command.make("add", { group: groupArg, link: linkArg }, (f) =>
  session(({ client, out }) =>
    Effect.gen(function* () {
      const link = yield* readLink(f.link, out, "save-dweb backup add GROUP")
      const added = yield* client.backups.add(yield* resolveGroup(client, f.group), link)
      emit(
        out,
        added,
        (r) =>
          `${r.already ? "already held by" : "now replicated by"} backup server ${r.name ?? r.server}\n` +
          "  it holds the encrypted files only; members fetch from it when you are offline",
      )
    }),
  ),
).pipe(Command.withDescription("have a backup server keep the group's (encrypted) files"))

const list = Command.make(
  "list",
  {
    target: Argument.String("group-or-link").pipe(
      Argument.withDescription("a group (its backup servers) or a backup link (what it holds)"),
    ),
  },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        if (f.target.startsWith("save+dweb:backup")) {
          const held = yield* client.backups.held(f.target)
          emit(out, held, (gs) =>
            gs.length === 0
              ? "the server holds no group"
              : table(
                  ["GROUP", "NAME", "REPOS", "SYNCED", "FAILED", "LAST SYNC"],
                  gs.map((g) => [g.key, g.name, g.repos, g.synced, g.failed, when(g.lastSyncAt)]),
                ),
          )
          return
        }
        const backups = yield* client.backups.forGroup(yield* resolveGroup(client, f.target))
        emit(out, backups, (bs) =>
          bs.length === 0
            ? "no member lists a backup server for this group"
            : table(
                ["SERVER", "NAME", "LISTED BY"],
                bs.map((b) => [
                  b.server,
                  b.name,
                  b.listedBy
                    .map((m) => (m.mine ? "you" : (m.memberName ?? `slot ${m.slot}`)))
                    .join(", "),
                ]),
              ),
        )
      }),
    ),
).pipe(Command.withDescription("a group's backup servers, or the groups a backup server holds"))

const serverArg = Argument.String("server").pipe(
  Argument.withDescription(
    "the server's key as `backup list GROUP` shows it (when you added it from here), its save+dweb:backup link, or - to read the link from stdin",
  ),
)

const remove = Command.make(
  "remove",
  {
    group: groupArg,
    server: serverArg,
    force: Flag.Boolean("force").pipe(
      Flag.withDescription("stop listing the server even if it cannot be reached"),
      Flag.withDefault(false),
    ),
  },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const group = yield* resolveGroup(client, f.group)
        // A key carries no secret: the daemon removes it with the link it kept.
        const removed =
          f.server === "-" || f.server.startsWith("save+dweb:")
            ? yield* client.backups.remove(
                group,
                yield* readLink(f.server, out, "save-dweb backup remove GROUP"),
                f.force,
              )
            : yield* client.backups.removeServer(group, f.server, f.force)
        emit(out, removed, (r) =>
          r.reached
            ? `backup server dropped the group (${r.freed} blobs freed)`
            : "the server could not be reached: no longer listed, but it keeps its copy",
        )
      }),
    ),
).pipe(Command.withDescription("take the group off a backup server (its copy is purged)"))

export const backup = Command.make("backup").pipe(
  Command.withDescription("keep a group's files on backup servers that cannot read them"),
  Command.withSubcommands([add, list, remove]),
)
