// `save-dweb group create|join|list|show|invite|rename|transport|leave|target`.
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { UsageError } from "../errors.ts"
import { linkArgument, readLink } from "../link-input.ts"
import { emit, table } from "../output.ts"
import { resolveGroup } from "../session.ts"
import { groupArg, session } from "./common.ts"

const transports = ["private", "direct"] as const
const transportHelp =
  "private: files travel only over Veilid private routes, no member learns another's IP address; direct: members also connect to each other directly (faster, they see each other's IP addresses)"

/** What a replicate link shows for a group's name: names are sealed under the group secret. */
const NO_NAME = "(not readable with a replicate link)"
const quotedName = (name: string | null) => (name === null ? NO_NAME : `"${name}"`)

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
        emit(out, joined, (g) => `joined group ${quotedName(g.name)} as ${g.tier}\n  key ${g.key}`)
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
          `name       ${g.name ?? NO_NAME}`,
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

const groupTarget = Command.make(
  "target",
  {
    group: groupArg,
    keepCopies: Flag.Int("keep-copies").pipe(
      Flag.withDescription("keep at least N copies of each of your files off this device"),
      Flag.optional,
    ),
    clear: Flag.Boolean("clear").pipe(
      Flag.withDescription("set no target"),
      Flag.withDefault(false),
    ),
  },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const key = yield* resolveGroup(client, f.group)
        if (f.clear && Option.isSome(f.keepCopies))
          return yield* new UsageError({ message: "--keep-copies and --clear: choose one" })
        if (Option.isSome(f.keepCopies) && f.keepCopies.value < 1)
          return yield* new UsageError({ message: "--keep-copies takes a number from 1" })
        const target = f.clear
          ? yield* client.groups.setCopiesTarget(key, null)
          : Option.isSome(f.keepCopies)
            ? yield* client.groups.setCopiesTarget(key, f.keepCopies.value)
            : yield* client.groups.copiesTarget(key)
        emit(out, { group: key, keepCopies: target }, (t) =>
          t.keepCopies === null
            ? "no copy target"
            : `keep at least ${t.keepCopies} ${t.keepCopies === 1 ? "copy" : "copies"} off this device`,
        )
      }),
    ),
).pipe(
  Command.withDescription(
    "show or set the copy target: the daemon tells (event CopiesReached) when a file reaches it",
  ),
)

export const group = Command.make("group").pipe(
  Command.withDescription(
    "create, join, list, invite to, rename, set the transport of and leave groups; copy targets",
  ),
  Command.withSubcommands([
    groupCreate,
    groupJoin,
    groupTarget,
    groupList,
    groupShow,
    groupInvite,
    groupRename,
    groupTransport,
    groupLeave,
  ]),
)
