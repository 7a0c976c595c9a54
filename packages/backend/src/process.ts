// What a long-running process built on the backend needs alike (the daemon and the backup
// server): JSON-lines logs, and the choice of Veilid network from a flag or a config file.
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { Data, Effect, Logger } from "effect"
import type { BackendConfig } from "./backend.ts"

export type LogLevel = "debug" | "info" | "warn" | "error"
export const logLevels: ReadonlyArray<LogLevel> = ["debug", "info", "warn", "error"]

const effectLevels = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" } as const

/** The process's log level as Effect's `MinimumLogLevel`. */
export const effectLogLevel = (level: LogLevel) => effectLevels[level]

/**
 * One JSON object per line on stderr: `{"time","level","message",...annotations}`, with
 * `cause` when the entry carries one. stdout stays free for what a caller parses.
 */
export const jsonLinesLogger = (write: (line: string) => void = (l) => process.stderr.write(l)) =>
  Logger.map(Logger.formatStructured, (entry) => {
    const line: Record<string, unknown> = {
      time: entry.timestamp,
      level: entry.level.toLowerCase(),
      message: entry.message,
      ...entry.annotations,
    }
    if (entry.cause !== undefined) line.cause = entry.cause
    write(`${JSON.stringify(line)}\n`)
  })

/**
 * Which Veilid network a process's node joins: the public one, a node of the testnet it is
 * attached to (`veilid-testnet exec --attach NAME`), or a full veilid-core config file.
 */
export type NetworkChoice =
  | { readonly _tag: "Public" }
  | { readonly _tag: "Testnet"; readonly node: string }
  | { readonly _tag: "ConfigFile"; readonly path: string }

/** Why a `--network` value is not one (returned, for the caller's own config error). */
export class InvalidNetworkChoice extends Data.TaggedError("InvalidNetworkChoice")<{
  readonly message: string
}> {}

/**
 * `public`, `testnet[:NODE]` or `config:/path/veilid.json` (relative to `base`);
 * `defaultNode` names the testnet node when none is given.
 */
export const parseNetworkChoice = (
  text: string,
  defaultNode: string,
  base: string = process.cwd(),
): NetworkChoice | InvalidNetworkChoice => {
  if (text === "public") return { _tag: "Public" }
  if (text === "testnet" || text.startsWith("testnet:")) {
    const node = text.slice("testnet:".length) || defaultNode
    if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(node))
      return new InvalidNetworkChoice({
        message: `network ${JSON.stringify(text)}: a testnet node name is lowercase letters, digits and -`,
      })
    return { _tag: "Testnet", node }
  }
  if (text.startsWith("config:")) {
    const path = text.slice("config:".length)
    if (path === "")
      return new InvalidNetworkChoice({
        message: "network config: needs a veilid-core config file",
      })
    return { _tag: "ConfigFile", path: resolve(base, path) }
  }
  return new InvalidNetworkChoice({
    message: `network ${JSON.stringify(text)}: expected public, testnet[:NODE] or config:/path/veilid.json`,
  })
}

/**
 * A process's data dir holds one node's stores alone, so veilid-core's `namespace` (which
 * partitions stores shared by several nodes) is cleared: a testnet config names one per
 * run, and keeping it would hide the stored groups from the next start.
 */
const ownStores = (veilidConfig: unknown): { readonly veilidConfig: unknown } =>
  typeof veilidConfig === "object" && veilidConfig !== null
    ? { veilidConfig: { ...veilidConfig, namespace: "" } }
    : { veilidConfig }

/** The backend's `network` setting for a choice (attaching to the testnet if asked). */
export const veilidNetworkOf = (
  choice: NetworkChoice,
): Effect.Effect<NonNullable<BackendConfig["network"]>, Error> => {
  switch (choice._tag) {
    case "Public":
      return Effect.succeed("public" as const)
    case "Testnet":
      return Effect.tryPromise({
        try: async () => {
          const { attachTestnet } = await import("@save-dweb/veilid-testnet")
          const testnet = attachTestnet()
          process.once("exit", () => testnet.release())
          return ownStores(testnet.nodeConfig(choice.node))
        },
        catch: (cause) =>
          new Error(
            `--network testnet needs a testnet to attach to (run under \`veilid-testnet exec --attach NAME\`): ${(cause as Error).message}`,
          ),
      })
    case "ConfigFile":
      return Effect.try({
        try: () => ownStores(JSON.parse(readFileSync(choice.path, "utf8")) as unknown),
        catch: (cause) => new Error(`veilid config ${choice.path}: ${(cause as Error).message}`),
      })
  }
}
