// The process's settings: flags win over the environment, which wins over the config
// file (JSON), which wins over the defaults. Every mistake fails with a `ConfigError` (an
// Effect failure, never a throw) whose message is meant for the person starting the server.

import { homedir } from "node:os"
import { dirname, isAbsolute, join, resolve } from "node:path"
import { parseArgs } from "node:util"
import {
  configSourcesOf,
  InvalidNetworkChoice,
  type LogLevel,
  logLevels,
  type NetworkChoice,
  parseNetworkChoice,
} from "@save-dweb/backend"
import { DisplayName } from "@save-dweb/uri-scheme"
import { Data, Effect, Schema } from "effect"

/** Which Veilid network the server's node joins (see the backend's `NetworkChoice`). */
export type Network = NetworkChoice
export type { LogLevel }

export interface ProcessConfig {
  readonly dataDir: string
  readonly network: Network
  readonly logLevel: LogLevel
  /** The descriptor link's display name. */
  readonly name: string | undefined
  readonly maxGroups: number
  /** Passes of one group at least this many seconds apart. */
  readonly minSyncSeconds: number
  /** A group whose pass failed is retried backing off up to this many seconds. */
  readonly maxRetrySeconds: number
  /** Every group gets a pass at least this often (seconds), change or not; 0: only on changes. */
  readonly pollSeconds: number
  /** How long the Veilid node may take to attach before the start fails. */
  readonly attachTimeoutSeconds: number
  /** Seconds between `memory` log lines (RSS, heap); 0: none. */
  readonly memoryLogSeconds: number
  /** Iroh's bind addresses (default any interface, random port). */
  readonly irohIpv4: string | undefined
  readonly irohIpv6: string | undefined
  /** A file holding the passphrase that locks the data dir; none: not locked. */
  readonly passphraseFile: string | undefined
  /** The config file read, if any (for the start-up log). */
  readonly configFile: string | undefined
}

export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly message: string
}> {}

export const DEFAULT_MAX_GROUPS = 64

/** `$XDG_DATA_HOME/save-dweb-backup-server`, else `~/.local/share/save-dweb-backup-server`. */
export const defaultDataDir = (env: NodeJS.ProcessEnv): string =>
  join(env.XDG_DATA_HOME ?? join(homedir(), ".local", "share"), "save-dweb-backup-server")

export const usage = `save-dweb-backup-server [options]

Replicates the groups it is given (encrypted blobs only: it never holds a key that
decrypts files), serves them to the groups' members over its private route, and prints
its descriptor link (save+dweb:backup?...) on stdout once it is online. Logs are JSON
lines on stderr. SIGINT or SIGTERM stop it cleanly; a restart keeps its groups and link.

  --data-dir DIR         where its keys, groups and blobs are kept
                         (env SAVE_DWEB_BACKUP_DATA_DIR; default $XDG_DATA_HOME/save-dweb-backup-server)
  --config FILE          JSON config file (env SAVE_DWEB_BACKUP_CONFIG; default DATA_DIR/config.json if present)
  --network NET          public | testnet[:NODE] | config:/path/veilid.json
                         (env SAVE_DWEB_BACKUP_NETWORK; default public)
  --name NAME            name shown in its link (env SAVE_DWEB_BACKUP_NAME)
  --log-level LEVEL      debug | info | warn | error (env SAVE_DWEB_BACKUP_LOG_LEVEL; default info)
  --max-groups N         groups held at most (env SAVE_DWEB_BACKUP_MAX_GROUPS; default ${DEFAULT_MAX_GROUPS})
  --min-sync SECS        passes of one group at least this far apart (default 1)
  --max-retry SECS       a failing group is retried backing off up to this (default 60)
  --poll SECS            a pass of every group at least this often, 0 = only on changes (default 30)
  --memory-log SECS      log RSS and heap every SECS seconds, 0 = never (default 300)
  --attach-timeout SECS  how long attaching to the network may take before the start fails
                         (default 300)
  --iroh-ipv4 ADDR       Iroh's IPv4 bind address, e.g. 0.0.0.0:4919 (default any, random port)
  --iroh-ipv6 ADDR       Iroh's IPv6 bind address, e.g. [::]:4919
  --passphrase-file FILE lock the data dir with the passphrase in FILE (one trailing newline
                         dropped): the groups' keys are kept sealed under a key derived from it,
                         and the server does not start without it (env SAVE_DWEB_BACKUP_PASSPHRASE_FILE)
  --help                 this text

Keys of the config file: dataDir, network, name, logLevel, maxGroups, minSyncSeconds,
maxRetrySeconds, pollSeconds, memoryLogSeconds, attachTimeoutSeconds, irohIpv4, irohIpv6,
passphraseFile. Relative paths in it are relative to the file.`

type Raw = {
  dataDir?: string | undefined
  network?: string | undefined
  name?: string | undefined
  logLevel?: string | undefined
  maxGroups?: string | number | undefined
  minSyncSeconds?: string | number | undefined
  maxRetrySeconds?: string | number | undefined
  memoryLogSeconds?: string | number | undefined
  pollSeconds?: string | number | undefined
  attachTimeoutSeconds?: string | number | undefined
  irohIpv4?: string | undefined
  irohIpv6?: string | undefined
  passphraseFile?: string | undefined
}

const fileKeys: ReadonlyArray<keyof Raw> = [
  "dataDir",
  "network",
  "name",
  "logLevel",
  "maxGroups",
  "minSyncSeconds",
  "maxRetrySeconds",
  "memoryLogSeconds",
  "pollSeconds",
  "attachTimeoutSeconds",
  "irohIpv4",
  "irohIpv6",
  "passphraseFile",
]

const fail = (message: string) => Effect.fail(new ConfigError({ message }))

export const parseNetwork = (
  text: string,
  base: string = process.cwd(),
): Effect.Effect<Network, ConfigError> => {
  const choice = parseNetworkChoice(text, "backup-server", base)
  return choice instanceof InvalidNetworkChoice ? fail(choice.message) : Effect.succeed(choice)
}

const integer = (
  name: string,
  value: string | number,
  min: number,
  max: number,
): Effect.Effect<number, ConfigError> => {
  const n = typeof value === "number" ? value : Number(value)
  return !Number.isSafeInteger(n) || n < min || n > max
    ? fail(`${name} ${JSON.stringify(value)}: expected an integer from ${min} to ${max}`)
    : Effect.succeed(n)
}

const parseFlags = (argv: ReadonlyArray<string>) =>
  Effect.try({
    try: () => parseArgsOf(argv),
    catch: (cause) => new ConfigError({ message: `${(cause as Error).message}\n\n${usage}` }),
  })

const parseArgsOf = (argv: ReadonlyArray<string>) =>
  parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      "data-dir": { type: "string" },
      config: { type: "string" },
      network: { type: "string" },
      name: { type: "string" },
      "log-level": { type: "string" },
      "max-groups": { type: "string" },
      "min-sync": { type: "string" },
      "max-retry": { type: "string" },
      "memory-log": { type: "string" },
      poll: { type: "string" },
      "attach-timeout": { type: "string" },
      "iroh-ipv4": { type: "string" },
      "iroh-ipv6": { type: "string" },
      "passphrase-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }).values

const isDisplayName = Schema.is(DisplayName)

/** The settings from `argv` (without node and script), `env` and the config file. */
export const resolveConfig = (
  argv: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
): Effect.Effect<
  { readonly help: true } | { readonly help: false; readonly config: ProcessConfig },
  ConfigError
> =>
  Effect.gen(function* () {
    const flags = yield* parseFlags(argv)
    if (flags.help === true) return { help: true } as const
    const { dataDirGiven, baseDir, configFile, fileUsed, file, pick } = yield* configSourcesOf<Raw>(
      {
        dataDir: flags["data-dir"] ?? env.SAVE_DWEB_BACKUP_DATA_DIR,
        config: flags.config ?? env.SAVE_DWEB_BACKUP_CONFIG,
        defaultDataDir: defaultDataDir(env),
        env,
        fileKeys,
      },
    ).pipe(Effect.mapError((e) => new ConfigError({ message: e.message })))
    const fileDir = dirname(configFile)

    const dataDir =
      dataDirGiven !== undefined
        ? resolve(dataDirGiven)
        : file.dataDir !== undefined
          ? isAbsolute(file.dataDir)
            ? file.dataDir
            : resolve(fileDir, file.dataDir)
          : baseDir
    const networkText = pick(flags.network, "SAVE_DWEB_BACKUP_NETWORK", "network")
    const network =
      networkText === undefined
        ? ({ _tag: "Public" } as const)
        : yield* parseNetwork(
            String(networkText),
            flags.network === undefined && env.SAVE_DWEB_BACKUP_NETWORK === undefined
              ? fileDir
              : process.cwd(),
          )
    const logLevel = String(
      pick(flags["log-level"], "SAVE_DWEB_BACKUP_LOG_LEVEL", "logLevel") ?? "info",
    )
    if (!logLevels.includes(logLevel as LogLevel)) {
      return yield* fail(
        `log level ${JSON.stringify(logLevel)}: expected one of ${logLevels.join(", ")}`,
      )
    }
    const name = pick(flags.name, "SAVE_DWEB_BACKUP_NAME", "name")
    if (name !== undefined && !isDisplayName(String(name))) {
      return yield* fail(
        `name ${JSON.stringify(name)}: 1 to 128 UTF-8 bytes, no control characters`,
      )
    }
    const minSyncSeconds = yield* integer(
      "min sync",
      pick(flags["min-sync"], "SAVE_DWEB_BACKUP_MIN_SYNC", "minSyncSeconds") ?? 1,
      0,
      86_400,
    )
    const maxRetrySeconds = yield* integer(
      "max retry",
      pick(flags["max-retry"], "SAVE_DWEB_BACKUP_MAX_RETRY", "maxRetrySeconds") ?? 60,
      1,
      86_400,
    )
    const pollSeconds = yield* integer(
      "poll",
      pick(flags.poll, "SAVE_DWEB_BACKUP_POLL", "pollSeconds") ?? 30,
      0,
      86_400,
    )
    const memoryLogSeconds = yield* integer(
      "memory log",
      pick(flags["memory-log"], "SAVE_DWEB_BACKUP_MEMORY_LOG", "memoryLogSeconds") ?? 300,
      0,
      86_400,
    )
    const irohIpv4 = pick(flags["iroh-ipv4"], "SAVE_DWEB_BACKUP_IROH_IPV4", "irohIpv4")
    const irohIpv6 = pick(flags["iroh-ipv6"], "SAVE_DWEB_BACKUP_IROH_IPV6", "irohIpv6")
    const passphraseFlag = flags["passphrase-file"] ?? env.SAVE_DWEB_BACKUP_PASSPHRASE_FILE
    const passphraseText = passphraseFlag ?? file.passphraseFile
    if (
      passphraseText !== undefined &&
      (typeof passphraseText !== "string" || passphraseText === "")
    )
      return yield* fail(`passphrase file ${JSON.stringify(passphraseText)}: expected a path`)
    const passphraseFile =
      passphraseText === undefined
        ? undefined
        : resolve(passphraseFlag === undefined ? fileDir : process.cwd(), passphraseText)
    return {
      help: false as const,
      config: {
        dataDir,
        network,
        logLevel: logLevel as LogLevel,
        name: name === undefined ? undefined : String(name),
        maxGroups: yield* integer(
          "max groups",
          pick(flags["max-groups"], "SAVE_DWEB_BACKUP_MAX_GROUPS", "maxGroups") ??
            DEFAULT_MAX_GROUPS,
          1,
          10_000,
        ),
        minSyncSeconds,
        maxRetrySeconds,
        memoryLogSeconds,
        pollSeconds,
        attachTimeoutSeconds: yield* integer(
          "attach timeout",
          pick(
            flags["attach-timeout"],
            "SAVE_DWEB_BACKUP_ATTACH_TIMEOUT",
            "attachTimeoutSeconds",
          ) ?? 300,
          1,
          86_400,
        ),
        irohIpv4: irohIpv4 === undefined ? undefined : String(irohIpv4),
        irohIpv6: irohIpv6 === undefined ? undefined : String(irohIpv6),
        passphraseFile,
        configFile: fileUsed,
      },
    }
  })
