// The client as Promises, for programs that do not use Effect: every method of the
// Effect client, run on its own fiber. Failures reject with the same error values (an
// API error class, `_tag` and `message`, or a `TransportError`); byte streams are web
// `ReadableStream`s and events are async iterables, so it runs in Node >= 22 and browsers.
import { Cause, Effect, Exit, Option, Scope, Stream } from "effect"
import { FetchHttpClient, type HttpClient } from "effect/http"
import type { OpenApi } from "effect/http-api"
import type { BackupAdded, BackupRemoved, GroupBackup, HeldGroup } from "./backup-schemas.ts"
import {
  type ClientError,
  type DownloadOptions,
  makeClient as makeEffectClient,
  type RepoKey,
  type RpcClient,
} from "./client.ts"
import type {
  CopiesSummary,
  CreateGroup,
  FileCopies,
  FileInfo,
  GroupDetail,
  GroupSummary,
  GroupTransport,
  Health,
  InviteTier,
  JoinGroup,
  Member,
  MemberRemoved,
  PairingResult,
  Reachability,
  RepoSummary,
  ServerEvent,
  SignInCode,
  Status,
  SyncReport,
} from "./schemas.ts"

export interface PromiseClientOptions {
  /** The server's URL, e.g. `http://127.0.0.1:7575` (default `http://localhost`). */
  readonly baseUrl?: string
  /** The bearer token (`<dataDir>/rpc-token`); without it only `health` answers. */
  readonly token?: string
  /** The `fetch` to use; default the global one. */
  readonly fetch?: typeof globalThis.fetch
  /** Another Effect transport instead of `fetch` (e.g. undici's, for a unix socket). */
  readonly httpClient?: HttpClient.HttpClient
}

/** What `files.upload` reads: a web stream, any async iterable of bytes, bytes, a `Blob`/`File`, or a path (Node only). */
export type PromiseUploadInput =
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Uint8Array
  | Blob
  | string

export interface PromiseUploadOptions {
  /**
   * Called with the bytes sent so far. Bytes and a `Blob` go as one body: in a browser on
   * the default transport they are counted as they are sent (`XMLHttpRequest`), elsewhere
   * reported once, when sent.
   */
  readonly onProgress?: (bytesSent: number) => void
}

export interface PromiseDownload {
  /** The file's size in bytes (plaintext). */
  readonly size: number
  /** The part sent (inclusive), for a range request; the whole file otherwise. */
  readonly start: number
  readonly end: number
  /** The bytes; read it to the end or `cancel()` it, which ends the request. */
  readonly body: ReadableStream<Uint8Array>
}

/** Events as they come; `close()` (or leaving a `for await` loop) ends the connection. */
export interface EventSubscription extends AsyncIterable<ServerEvent> {
  readonly close: () => Promise<void>
}

export interface SaveDwebClient {
  readonly health: () => Promise<Health>
  readonly openapi: () => Promise<OpenApi.OpenAPISpec>
  readonly docs: () => Promise<string>
  readonly status: () => Promise<Status>
  /** Server-sent events (heartbeats left out), from whenever the server subscribes. */
  readonly events: () => AsyncIterable<ServerEvent>
  /** Resolves once the server has subscribed: nothing that happens afterwards is missed. */
  readonly subscribe: () => Promise<EventSubscription>
  readonly groups: {
    readonly list: () => Promise<ReadonlyArray<GroupSummary>>
    readonly create: (body: CreateGroup) => Promise<GroupDetail>
    readonly join: (body: JoinGroup) => Promise<GroupDetail>
    readonly get: (group: string) => Promise<GroupDetail>
    readonly leave: (group: string) => Promise<void>
    readonly forget: (group: string) => Promise<void>
    readonly invite: (group: string, tier: InviteTier) => Promise<string>
    readonly sync: (group: string) => Promise<SyncReport>
    readonly members: (group: string) => Promise<ReadonlyArray<Member>>
    /** Manager: renames the group. */
    readonly rename: (group: string, name: string) => Promise<GroupDetail>
    /** Manager: `private` or `direct`; the group's detail after the change. */
    readonly setTransport: (group: string, transport: GroupTransport) => Promise<GroupDetail>
    /** Manager: removes the member in `slot`; the group has a new key from then on. */
    /** A round trip to the member in `slot` over its private route, now. */
    readonly reachability: (group: string, slot: number) => Promise<Reachability>
    readonly removeMember: (group: string, slot: number) => Promise<MemberRemoved>
    /** Renames this member (its own slot only). */
    readonly renameMember: (group: string, slot: number, name: string) => Promise<void>
    readonly repos: (group: string) => Promise<ReadonlyArray<RepoSummary>>
    /** How many own files have at least `atLeast` copies off this device (asked now). */
    readonly copies: (group: string, atLeast?: number) => Promise<CopiesSummary>
    /** The group's copy target (`null`: none). */
    readonly copiesTarget: (group: string) => Promise<number | null>
    readonly setCopiesTarget: (group: string, atLeast: number | null) => Promise<number | null>
  }
  readonly files: {
    readonly list: (group: string, repo: RepoKey) => Promise<ReadonlyArray<FileInfo>>
    readonly upload: (
      group: string,
      name: string,
      input: PromiseUploadInput,
      options?: PromiseUploadOptions,
    ) => Promise<FileInfo>
    readonly download: (
      group: string,
      repo: RepoKey,
      name: string,
      options?: DownloadOptions,
    ) => Promise<PromiseDownload>
    readonly delete: (group: string, name: string) => Promise<void>
    /** Who holds the file off this device, each asked to prove it now. */
    readonly copies: (group: string, repo: RepoKey, name: string) => Promise<FileCopies>
    readonly pin: (group: string, repo: RepoKey, name: string) => Promise<void>
    readonly unpin: (group: string, repo: RepoKey, name: string) => Promise<void>
  }
  readonly pairing: {
    readonly makeLink: (groups?: ReadonlyArray<string>) => Promise<string>
    readonly pair: (link: string) => Promise<PairingResult>
  }
  readonly signIn: {
    readonly code: () => Promise<SignInCode>
    readonly exchange: (code: string) => Promise<string>
  }
  readonly backups: {
    readonly add: (group: string, link: string) => Promise<BackupAdded>
    readonly forGroup: (group: string) => Promise<ReadonlyArray<GroupBackup>>
    readonly remove: (group: string, link: string, force?: boolean) => Promise<BackupRemoved>
    /** `remove` by the server's key, with the link kept here (`kept` in `forGroup`). */
    readonly removeServer: (
      group: string,
      server: string,
      force?: boolean,
    ) => Promise<BackupRemoved>
    readonly held: (link: string) => Promise<ReadonlyArray<HeldGroup>>
  }
  /** Ends the client (its transport's connections); running calls are not waited for. */
  readonly close: () => Promise<void>
}

/** The failure itself (an API error, a `TransportError`, an upload source's own error), else the defect. */
const rejectionOf = (cause: Cause.Cause<unknown>): unknown =>
  Option.getOrElse(Cause.findErrorOption(cause), () => Cause.squash(cause))

const isReadableStream = (input: unknown): input is ReadableStream<Uint8Array> =>
  typeof ReadableStream !== "undefined" && input instanceof ReadableStream

/**
 * A client whose methods return Promises:
 * `const client = makeClient({ baseUrl, token }); await client.groups.list()`.
 */
export const makeClient = (options: PromiseClientOptions = {}): SaveDwebClient => {
  const scope = Scope.makeUnsafe()
  const fetch = options.fetch
  const withFetch = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    fetch === undefined ? effect : Effect.provideService(effect, FetchHttpClient.Fetch, fetch)
  const streamWithFetch = <A, E>(stream: Stream.Stream<A, E>) =>
    fetch === undefined ? stream : Stream.provideService(stream, FetchHttpClient.Fetch, fetch)
  const runExit = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
    Effect.runPromiseExit(withFetch(effect)).then((exit) =>
      Exit.isSuccess(exit) ? exit.value : Promise.reject(rejectionOf(exit.cause)),
    )

  const ready: Promise<RpcClient> = runExit(
    Scope.provide(
      makeEffectClient({
        ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
        ...(options.token === undefined ? {} : { token: options.token }),
        ...(options.httpClient === undefined ? {} : { httpClient: options.httpClient }),
      }),
      scope,
    ),
  )
  const run = <A>(f: (client: RpcClient) => Effect.Effect<A, unknown>): Promise<A> =>
    ready.then((client) => runExit(f(client)))

  /** An effect that needs a scope, run in one of its own that the caller's stream closes. */
  const runScoped = <A>(
    f: (client: RpcClient) => Effect.Effect<A, ClientError, Scope.Scope>,
  ): Promise<{ readonly value: A; readonly release: Effect.Effect<void> }> =>
    ready.then(async (client) => {
      const own = Scope.makeUnsafe()
      const release = Scope.close(own, Exit.void)
      try {
        return { value: await runExit(Scope.provide(f(client), own)), release }
      } catch (error) {
        await Effect.runPromise(release)
        throw error
      }
    })

  const uploadSource = (
    input: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  ): Stream.Stream<Uint8Array, unknown> =>
    isReadableStream(input)
      ? Stream.fromReadableStream({ evaluate: () => input, onError: (cause) => cause })
      : Stream.fromAsyncIterable(input, (cause) => cause)

  return {
    health: () => run((c) => c.health),
    openapi: () => run((c) => c.openapi),
    docs: () => run((c) => c.docs),
    status: () => run((c) => c.status),
    events: () => ({
      [Symbol.asyncIterator]: () => {
        let iterator: AsyncIterator<ServerEvent> | undefined
        const start = () =>
          ready.then((client) => {
            iterator ??= Stream.toAsyncIterable(streamWithFetch(client.events))[
              Symbol.asyncIterator
            ]()
            return iterator
          })
        return {
          next: () => start().then((it) => it.next()),
          return: (value?: unknown) =>
            iterator?.return === undefined
              ? Promise.resolve({ done: true as const, value: undefined })
              : iterator.return(value),
        }
      },
    }),
    subscribe: () =>
      runScoped((c) => c.subscribe).then(({ value, release }) => {
        const iterable = Stream.toAsyncIterable(streamWithFetch(Stream.ensuring(value, release)))
        return {
          [Symbol.asyncIterator]: () => iterable[Symbol.asyncIterator](),
          close: () => Effect.runPromise(release),
        }
      }),
    groups: {
      list: () => run((c) => c.groups.list),
      create: (body) => run((c) => c.groups.create(body)),
      join: (body) => run((c) => c.groups.join(body)),
      get: (group) => run((c) => c.groups.get(group)),
      leave: (group) => run((c) => c.groups.leave(group)),
      forget: (group) => run((c) => c.groups.forget(group)),
      invite: (group, tier) => run((c) => c.groups.invite(group, tier)),
      sync: (group) => run((c) => c.groups.sync(group)),
      members: (group) => run((c) => c.groups.members(group)),
      rename: (group, name) => run((c) => c.groups.rename(group, name)),
      setTransport: (group, transport) => run((c) => c.groups.setTransport(group, transport)),
      reachability: (group, slot) => run((c) => c.groups.reachability(group, slot)),
      removeMember: (group, slot) => run((c) => c.groups.removeMember(group, slot)),
      renameMember: (group, slot, name) => run((c) => c.groups.renameMember(group, slot, name)),
      repos: (group) => run((c) => c.groups.repos(group)),
      copies: (group, atLeast) => run((c) => c.groups.copies(group, atLeast)),
      copiesTarget: (group) => run((c) => c.groups.copiesTarget(group)),
      setCopiesTarget: (group, atLeast) => run((c) => c.groups.setCopiesTarget(group, atLeast)),
    },
    files: {
      list: (group, repo) => run((c) => c.files.list(group, repo)),
      upload: (group, name, input, uploadOptions) => {
        const onProgress = uploadOptions?.onProgress
        const progress =
          onProgress === undefined
            ? {}
            : { onProgress: (sent: number) => Effect.sync(() => onProgress(sent)) }
        return run((c) =>
          c.files.upload(
            group,
            name,
            typeof input === "string" || input instanceof Uint8Array || input instanceof Blob
              ? input
              : uploadSource(input),
            progress,
          ),
        )
      },
      download: (group, repo, name, downloadOptions) =>
        runScoped((c) => c.files.download(group, repo, name, downloadOptions)).then(
          ({ value, release }) => ({
            size: value.size,
            start: value.start,
            end: value.end,
            body: Stream.toReadableStream(streamWithFetch(Stream.ensuring(value.bytes, release))),
          }),
        ),
      delete: (group, name) => run((c) => c.files.delete(group, name)),
      copies: (group, repo, name) => run((c) => c.files.copies(group, repo, name)),
      pin: (group, repo, name) => run((c) => c.files.pin(group, repo, name)),
      unpin: (group, repo, name) => run((c) => c.files.unpin(group, repo, name)),
    },
    pairing: {
      makeLink: (groups) => run((c) => c.pairing.makeLink(groups)),
      pair: (link) => run((c) => c.pairing.pair(link)),
    },
    signIn: {
      code: () => run((c) => c.signIn.code),
      exchange: (code) => run((c) => c.signIn.exchange(code)),
    },
    backups: {
      add: (group, link) => run((c) => c.backups.add(group, link)),
      forGroup: (group) => run((c) => c.backups.forGroup(group)),
      remove: (group, link, force) => run((c) => c.backups.remove(group, link, force)),
      removeServer: (group, server, force) =>
        run((c) => c.backups.removeServer(group, server, force)),
      held: (link) => run((c) => c.backups.held(link)),
    },
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}
