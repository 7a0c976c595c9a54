import { resolve } from "node:path"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { type ClientError, makeClient, type RpcClient } from "@save-dweb/client"
import { defaultDataDir } from "@save-dweb/daemon"
import { Context, Effect, Layer, Option, type Scope } from "effect"
import { HttpClient } from "effect/http"
import { connectionOf, type DaemonNotRunning } from "./daemon-control.ts"
import { makeOutput, type Output } from "./output.ts"

/** The flags every command shares. */
export interface CommonFlags {
  readonly dataDir: Option.Option<string>
  readonly url: Option.Option<string>
  readonly token: Option.Option<string>
  readonly json: boolean
}

export const dataDirOf = (flags: CommonFlags) =>
  resolve(
    Option.getOrElse(
      flags.dataDir,
      () => process.env.SAVE_DWEB_DATA_DIR ?? defaultDataDir(process.env),
    ),
  )

/**
 * The daemon to talk to: `--url`/`--token` (or `SAVE_DWEB_URL`/`SAVE_DWEB_TOKEN`) when
 * given, else the daemon running on the data dir (its `daemon.json` and `rpc-token`).
 * `unix:/path` URLs connect to a socket.
 */
export const connect = (
  flags: CommonFlags,
): Effect.Effect<{ client: RpcClient; url: string }, DaemonNotRunning, Scope.Scope> =>
  Effect.gen(function* () {
    const explicitUrl = Option.getOrUndefined(flags.url) ?? process.env.SAVE_DWEB_URL
    const explicitToken = Option.getOrUndefined(flags.token) ?? process.env.SAVE_DWEB_TOKEN
    const found =
      explicitUrl === undefined
        ? yield* connectionOf(dataDirOf(flags))
        : { url: explicitUrl, token: undefined }
    const url = found.url
    const token = explicitToken ?? found.token
    // Undici's client, for `unix:` URLs (fetch cannot reach a socket); its pool closes
    // with the scope.
    const socketPath = url.startsWith("unix:") ? url.slice("unix:".length) : undefined
    const transport = yield* Layer.build(
      NodeHttpClient.layerUndiciOptions(
        socketPath === undefined ? {} : { connect: { socketPath } },
      ),
    )
    const client = yield* makeClient({
      ...(socketPath === undefined ? { baseUrl: url } : {}),
      ...(token === undefined ? {} : { token }),
      httpClient: Context.get(transport, HttpClient.HttpClient),
    })
    return { client, url }
  })

export interface Session {
  readonly client: RpcClient
  readonly url: string
  readonly out: Output
}

/** Runs `f` with a connected client and the output the flags ask for. */
export const withSession = <A, E>(
  flags: CommonFlags,
  f: (session: Session) => Effect.Effect<A, E, Scope.Scope>,
): Effect.Effect<A, E | DaemonNotRunning> =>
  Effect.scoped(
    Effect.gen(function* () {
      const { client, url } = yield* connect(flags)
      return yield* f({ client, url, out: makeOutput(flags.json) })
    }),
  )

/** A group given by key or by name (unique among known groups) as its key. */
export const resolveGroup = (
  client: RpcClient,
  group: string,
): Effect.Effect<string, ClientError> =>
  Effect.gen(function* () {
    const groups = yield* client.groups.list
    if (groups.some((g) => g.key === group)) return group
    const named = groups.filter((g) => g.name === group)
    if (named.length === 1) return (named[0] as (typeof named)[number]).key
    return group
  })
