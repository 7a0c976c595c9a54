import { homedir } from "node:os"
import { isAbsolute, join, resolve } from "node:path"
import { parseArgs } from "node:util"
import {
  configSourcesOf,
  InvalidNetworkChoice,
  type LogLevel,
  logLevels,
  type NetworkChoice,
  parseNetworkChoice,
} from "@save-dweb/backend"
import { Data, Effect } from "effect"

/** Where the RPC server listens: TCP (loopback by default) or a unix socket. */
export type Listen =
  | { readonly _tag: "Tcp"; readonly host: string; readonly port: number }
  | { readonly _tag: "Socket"; readonly path: string }

/** Which Veilid network the daemon's node joins (see the backend's `NetworkChoice`). */
export type Network = NetworkChoice
export type { LogLevel }

export interface DaemonConfig {
  readonly dataDir: string
  readonly listen: Listen
  /**
   * The Save app's API (package save-app-api): off unless given. It has no token, so
   * whoever can connect to it uses every group (README, "The Save app's API").
   */
  readonly saveAppApi: Listen | undefined
  readonly network: Network
  readonly logLevel: LogLevel
  /** Largest upload the RPC accepts, in bytes. */
  readonly maxUploadBytes: number
  /**
   * Background replication of loaded groups: a sync pass starts when a member's repo
   * changes, at most one per this many seconds (0: only on request).
   */
  readonly syncIntervalSeconds: number
  /** How long the Veilid node may take to attach before the start fails. */
  readonly attachTimeoutSeconds: number
  /**
   * A file whose text is the passphrase that locks the data dir (its group secrets are
   * kept sealed under a key derived from it); none: the data dir is not locked.
   */
  readonly passphraseFile: string | undefined
  /** Where the settings came from, for the start-up log. */
  readonly configFile: string | undefined
}

export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly message: string
}> {}

export const DEFAULT_PORT = 7575
export const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 ** 3

/** The platform's data directory for save-dweb (`$XDG_DATA_HOME/save-dweb`). */
export const defaultDataDir = (env: NodeJS.ProcessEnv): string =>
  join(env.XDG_DATA_HOME ?? join(homedir(), ".local", "share"), "save-dweb")

export const usage = `save-dweb-daemon [options]

  --data-dir DIR        where groups, files and keys are kept
                        (env SAVE_DWEB_DATA_DIR; default $XDG_DATA_HOME/save-dweb)
  --config FILE         JSON config file (env SAVE_DWEB_CONFIG; default DATA_DIR/config.json if present)
  --listen ADDR         HOST:PORT or unix:/path/to.sock (env SAVE_DWEB_LISTEN; default 127.0.0.1:${DEFAULT_PORT})
  --save-app-api ADDR   also serve the Save Android app's API, with no token, on 127.0.0.1:PORT or
                        unix:/path/to.sock (env SAVE_DWEB_SAVE_APP_API; default off)
  --network NET         public | testnet[:NODE] | config:/path/veilid.json (env SAVE_DWEB_NETWORK; default public)
  --log-level LEVEL     debug | info | warn | error (env SAVE_DWEB_LOG_LEVEL; default info)
  --max-upload BYTES    largest accepted upload (env SAVE_DWEB_MAX_UPLOAD; default 64 GiB)
  --sync-interval SECS  replicate members' changes in the background, at most one pass per SECS,
                        0 = only on request (env SAVE_DWEB_SYNC_INTERVAL; default 1)
  --attach-timeout SECS how long attaching to the network may take before the start fails
                        (env SAVE_DWEB_ATTACH_TIMEOUT; default 300)
  --passphrase-file FILE lock the data dir with the passphrase in FILE (one trailing newline
                        dropped): group secrets are kept sealed under a key derived from it, and
                        the daemon does not start without it (env SAVE_DWEB_PASSPHRASE_FILE)
  --help                this text

Flags win over the environment, which wins over the config file. Keys of the config file:
dataDir, listen, saveAppApi, network, logLevel, maxUploadBytes, syncIntervalSeconds,
attachTimeoutSeconds, passphraseFile.`

type Raw = {
  dataDir?: string | undefined
  listen?: string | undefined
  saveAppApi?: string | undefined
  network?: string | undefined
  logLevel?: string | undefined
  maxUploadBytes?: string | number | undefined
  syncIntervalSeconds?: string | number | undefined
  attachTimeoutSeconds?: string | number | undefined
  passphraseFile?: string | undefined
}

const fail = (message: string) => Effect.fail(new ConfigError({ message }))

export const parseListen = (
  text: string,
  flag = "--listen",
): Effect.Effect<Listen, ConfigError> => {
  if (text.startsWith("unix:")) {
    const path = text.slice("unix:".length)
    return path === ""
      ? fail(`${flag} unix: needs a socket path, e.g. unix:/run/save-dweb.sock`)
      : Effect.succeed({ _tag: "Socket", path: resolve(path) })
  }
  const match = /^(\[[0-9a-fA-F:]+\]|[^:[\]]+):(\d{1,5})$/.exec(text)
  if (match === null)
    return fail(`${flag} ${JSON.stringify(text)}: expected HOST:PORT or unix:PATH`)
  const host = (match[1] as string).replace(/^\[|\]$/g, "")
  const port = Number(match[2])
  return port > 65_535
    ? fail(`${flag} ${JSON.stringify(text)}: port ${port} is over 65535`)
    : Effect.succeed({ _tag: "Tcp", host, port })
}

export const parseNetwork = (text: string): Effect.Effect<Network, ConfigError> => {
  const choice = parseNetworkChoice(text, "daemon")
  return choice instanceof InvalidNetworkChoice
    ? fail(`--${choice.message}`)
    : Effect.succeed(choice)
}

const positiveInt = (
  name: string,
  value: string | number,
  min: number,
): Effect.Effect<number, ConfigError> => {
  const n = typeof value === "number" ? value : Number(value)
  return !Number.isSafeInteger(n) || n < min
    ? fail(`${name} ${JSON.stringify(value)}: expected an integer ≥ ${min}`)
    : Effect.succeed(n)
}

const fileKeys: ReadonlyArray<keyof Raw> = [
  "dataDir",
  "listen",
  "saveAppApi",
  "network",
  "logLevel",
  "maxUploadBytes",
  "syncIntervalSeconds",
  "attachTimeoutSeconds",
  "passphraseFile",
]

const loopbackHosts = ["127.0.0.1", "::1", "localhost"]

/**
 * Off when not given (or given empty, to turn off one set in the config file). Having no
 * token, it listens on the loopback interface or a unix socket only, never on a network.
 */
const saveAppApiOf = (
  value: string | number | undefined,
): Effect.Effect<Listen | undefined, ConfigError> =>
  value === undefined || value === ""
    ? Effect.succeed(undefined)
    : Effect.flatMap(parseListen(String(value), "--save-app-api"), (listen) =>
        listen._tag === "Tcp" && !loopbackHosts.includes(listen.host)
          ? fail(
              `--save-app-api ${JSON.stringify(String(value))}: it has no token, so it listens on 127.0.0.1:PORT, [::1]:PORT or unix:PATH only`,
            )
          : Effect.succeed(listen),
      )

export type ResolvedConfig =
  | { readonly help: true }
  | { readonly help: false; readonly config: DaemonConfig }

/**
 * The daemon's settings from flags, environment and config file (in that order of
 * precedence). Fails with a `ConfigError` whose message is meant for the person starting it.
 */
export const resolveConfig = (
  argv: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
): Effect.Effect<ResolvedConfig, ConfigError> =>
  Effect.gen(function* () {
    const flags = yield* parseFlags(argv)
    if (flags.help === true) return { help: true } as const
    const { dataDirGiven, baseDir, fileUsed, file, pick } = yield* configSourcesOf<Raw>({
      dataDir: flags["data-dir"] ?? env.SAVE_DWEB_DATA_DIR,
      config: flags.config ?? env.SAVE_DWEB_CONFIG,
      defaultDataDir: defaultDataDir(env),
      env,
      fileKeys,
    }).pipe(Effect.mapError((e) => new ConfigError({ message: e.message })))
    const dataDirRaw = dataDirGiven ?? file.dataDir
    const dataDir =
      dataDirRaw === undefined ? baseDir : isAbsolute(dataDirRaw) ? dataDirRaw : resolve(dataDirRaw)
    const logLevel = String(pick(flags["log-level"], "SAVE_DWEB_LOG_LEVEL", "logLevel") ?? "info")
    if (!logLevels.includes(logLevel as LogLevel))
      return yield* fail(
        `log level ${JSON.stringify(logLevel)}: expected one of ${logLevels.join(", ")}`,
      )
    return {
      help: false as const,
      config: {
        dataDir,
        listen: yield* parseListen(
          String(pick(flags.listen, "SAVE_DWEB_LISTEN", "listen") ?? `127.0.0.1:${DEFAULT_PORT}`),
        ),
        saveAppApi: yield* saveAppApiOf(
          pick(flags["save-app-api"], "SAVE_DWEB_SAVE_APP_API", "saveAppApi"),
        ),
        network: yield* parseNetwork(
          String(pick(flags.network, "SAVE_DWEB_NETWORK", "network") ?? "public"),
        ),
        logLevel: logLevel as LogLevel,
        maxUploadBytes: yield* positiveInt(
          "max upload",
          pick(flags["max-upload"], "SAVE_DWEB_MAX_UPLOAD", "maxUploadBytes") ??
            DEFAULT_MAX_UPLOAD_BYTES,
          1,
        ),
        syncIntervalSeconds: yield* positiveInt(
          "sync interval",
          pick(flags["sync-interval"], "SAVE_DWEB_SYNC_INTERVAL", "syncIntervalSeconds") ?? 1,
          0,
        ),
        attachTimeoutSeconds: yield* positiveInt(
          "attach timeout",
          pick(flags["attach-timeout"], "SAVE_DWEB_ATTACH_TIMEOUT", "attachTimeoutSeconds") ?? 300,
          1,
        ),
        passphraseFile: yield* passphraseFileOf(
          pick(flags["passphrase-file"], "SAVE_DWEB_PASSPHRASE_FILE", "passphraseFile"),
        ),
        configFile: fileUsed,
      },
    }
  })

const passphraseFileOf = (
  value: string | number | undefined,
): Effect.Effect<string | undefined, ConfigError> =>
  value === undefined
    ? Effect.succeed(undefined)
    : typeof value !== "string" || value === ""
      ? fail(`passphrase file ${JSON.stringify(value)}: expected a path`)
      : Effect.succeed(resolve(value))

const parseFlags = (argv: ReadonlyArray<string>) =>
  Effect.try({
    try: () => parseArgsOf(argv),
    catch: (cause) => new ConfigError({ message: (cause as Error).message }),
  })

const parseArgsOf = (argv: ReadonlyArray<string>) =>
  parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      "data-dir": { type: "string" },
      config: { type: "string" },
      listen: { type: "string" },
      "save-app-api": { type: "string" },
      network: { type: "string" },
      "log-level": { type: "string" },
      "max-upload": { type: "string" },
      "sync-interval": { type: "string" },
      "attach-timeout": { type: "string" },
      "passphrase-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }).values
