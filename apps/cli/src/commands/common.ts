// The root command, the flags every command shares, and the arguments several command groups take.
import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { withSession } from "../session.ts"

export const root = Command.make("save-dweb").pipe(
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
export const flags = root

export const session = <A, E>(f: Parameters<typeof withSession<A, E>>[1]) =>
  Effect.flatMap(flags, (common) => withSession(common, f))

export const groupArg = Argument.String("group").pipe(Argument.withDescription("group key or name"))
export const repoFlag = Flag.String("repo").pipe(
  Flag.withDescription("repo key (default: search every repo, own first)"),
  Flag.optional,
)
