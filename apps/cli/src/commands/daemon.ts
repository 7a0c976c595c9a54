// `save-dweb daemon start|stop|status` and `save-dweb status`.
import { resolve } from "node:path"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { startDaemon, stopDaemon } from "../daemon-control.ts"
import { emit } from "../output.ts"
import { dataDirOf } from "../session.ts"
import { flags, session } from "./common.ts"

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
  passphraseFile: Flag.String("passphrase-file").pipe(
    Flag.withDescription(
      "file holding the passphrase that locks the data dir (see the daemon's README)",
    ),
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
    pass(
      "passphrase-file",
      Option.map(f.passphraseFile, (file) => resolve(file)),
    )
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

export const daemon = Command.make("daemon").pipe(
  Command.withDescription("start, stop or inspect the background daemon"),
  Command.withSubcommands([daemonStart, daemonStop, daemonStatus]),
)

export const status = Command.make("status", {}, () => statusHandler).pipe(
  Command.withDescription("same as `daemon status`"),
)
