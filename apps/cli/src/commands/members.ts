// `save-dweb members GROUP` and `save-dweb repos GROUP`.
import { Effect } from "effect"
import { Command } from "effect/cli"
import { emit, table } from "../output.ts"
import { resolveGroup } from "../session.ts"
import { groupArg, session } from "./common.ts"

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
).pipe(Command.withDescription("a group's members"))

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
