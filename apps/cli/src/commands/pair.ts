// `save-dweb pair make|use`: moving a membership to another device.
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { linkArgument, readLink } from "../link-input.ts"
import { emit } from "../output.ts"
import { resolveGroup } from "../session.ts"
import { session } from "./common.ts"

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

const pairUse = Command.make("use", { link: linkArgument("a save+dweb:pair link") }, (f) =>
  session(({ client, out }) =>
    Effect.gen(function* () {
      const result = yield* client.pairing.pair(yield* readLink(f.link, out, "save-dweb pair use"))
      emit(
        out,
        result,
        (r) =>
          `this device now holds ${r.groups.length} group(s): ${r.groups.map((g) => g.name ?? g.key).join(", ")}`,
      )
    }),
  ),
).pipe(Command.withDescription("use a pairing link from your other device"))

export const pair = Command.make("pair").pipe(
  Command.withDescription("move your membership to another device"),
  Command.withSubcommands([pairMake, pairUse]),
)
