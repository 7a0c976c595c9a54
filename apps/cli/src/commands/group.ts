// `save-dweb group create|join|list|show|invite|rename|transport|leave`.
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { linkArgument, readLink } from "../link-input.ts"
import { emit, table } from "../output.ts"
import { resolveGroup } from "../session.ts"
import { groupArg, session } from "./common.ts"

const transports = ["private", "direct"] as const
const transportHelp =
  "private: files travel only over Veilid private routes, no member learns another's IP address; direct: members also connect to each other directly (faster, they see each other's IP addresses)"

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
    transport: Flag.Literals("transport", transports).pipe(
      Flag.withDescription(`${transportHelp} (default private)`),
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
          ...(Option.isSome(f.transport) ? { transport: f.transport.value } : {}),
        })
        emit(
          out,
          created,
          (g) =>
            `created group "${g.name}"\n  key ${g.key}\n  transport ${g.transport}\n  your repo ${g.repo ?? "-"}`,
        )
      }),
    ),
).pipe(Command.withDescription("create a group (you manage it)"))

const groupJoin = Command.make(
  "join",
  {
    link: linkArgument("a save+dweb:invite link"),
    memberName: Flag.String("member-name").pipe(Flag.optional),
  },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const link = yield* readLink(f.link, out, "save-dweb group join")
        const joined = yield* client.groups.join({
          link,
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
          `name       ${g.name}`,
          `key        ${g.key}`,
          `tier       ${g.tier}`,
          `slot       ${g.slot ?? "-"}`,
          `sources    ${g.sourcePolicy}`,
          `transport  ${g.transport}`,
          `repo       ${g.repo ?? "-"}`,
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

const groupRename = Command.make(
  "rename",
  { group: groupArg, name: Argument.String("name").pipe(Argument.withDescription("the new name")) },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const renamed = yield* client.groups.rename(yield* resolveGroup(client, f.group), f.name)
        emit(out, renamed, (g) => `group ${g.key} is "${g.name}"`)
      }),
    ),
).pipe(Command.withDescription("rename a group (manager)"))

const groupTransport = Command.make(
  "transport",
  {
    group: groupArg,
    transport: Argument.Literals("transport", transports).pipe(
      Argument.withDescription(transportHelp),
    ),
  },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const changed = yield* client.groups.setTransport(
          yield* resolveGroup(client, f.group),
          f.transport,
        )
        emit(out, changed, (g) => `group "${g.name}" (${g.key}) is now ${g.transport}`)
      }),
    ),
).pipe(Command.withDescription("change how a group's files travel: private or direct (manager)"))

export const group = Command.make("group").pipe(
  Command.withDescription(
    "create, join, list, invite to, rename, set the transport of and leave groups",
  ),
  Command.withSubcommands([
    groupCreate,
    groupJoin,
    groupList,
    groupShow,
    groupInvite,
    groupRename,
    groupTransport,
    groupLeave,
  ]),
)
