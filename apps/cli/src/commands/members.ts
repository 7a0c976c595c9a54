// `save-dweb members GROUP` (with `remove` and `rename`) and `save-dweb repos GROUP`.
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { emit, table } from "../output.ts"
import { resolveGroup } from "../session.ts"
import { groupArg, session } from "./common.ts"

const memberArg = Argument.Int("member").pipe(
  Argument.withDescription("the member's slot (the SLOT column of `save-dweb members GROUP`)"),
)

const membersRemove = Command.make("remove", { group: groupArg, member: memberArg }, (f) =>
  session(({ client, out }) =>
    Effect.gen(function* () {
      const removed = yield* client.groups.removeMember(
        yield* resolveGroup(client, f.group),
        f.member,
      )
      emit(out, removed, (r) =>
        [
          `removed member ${f.member}: the group now has new keys`,
          `  new key ${r.group} (the old one still finds it here)`,
          "  the other members' daemons follow by themselves, and so do the backup servers",
          "  you added (no `backup add` needed); read and replicate links must be given again",
        ].join("\n"),
      )
    }),
  ),
).pipe(
  Command.withDescription(
    "remove a member (manager): it can read nothing new and fetch nothing; the group is rotated",
  ),
)

const membersRename = Command.make(
  "rename",
  {
    group: groupArg,
    member: memberArg,
    name: Argument.String("name").pipe(Argument.withDescription("the new name")),
  },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        yield* client.groups.renameMember(yield* resolveGroup(client, f.group), f.member, f.name)
        emit(out, { member: f.member, name: f.name }, (r) => `member ${r.member} is "${r.name}"`)
      }),
    ),
).pipe(Command.withDescription("rename yourself in a group (your own slot only)"))

export const members = Command.make("members", { group: groupArg }, (f) =>
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
).pipe(
  Command.withDescription("a group's members; `remove` one (manager) or `rename` yourself"),
  Command.withSubcommands([membersRemove, membersRename]),
)

export const repos = Command.make("repos", { group: groupArg }, (f) =>
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
