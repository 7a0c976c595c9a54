// The typed client: every route as a method returning an Effect (or a Stream) whose
// failures are the API's tagged errors or a `TransportError`. Built on the HttpApi's own
// client over `fetch` by default (Node >= 22 and browsers), or over any Effect
// `HttpClient` the caller gives (the CLI passes undici's, for unix sockets); downloads
// and byte uploads use raw requests (`Range`, a `Blob` body).

import { Context, Data, Effect, Layer, Option, Pull, Schema, type Scope, Stream } from "effect"
import {
  FetchHttpClient,
  HttpBody,
  HttpClient,
  HttpClientRequest,
  type HttpClientResponse,
} from "effect/http"
import { HttpApiClient, type OpenApi } from "effect/http-api"
import { readFileStream } from "#file-source"
import { Api } from "./api.ts"
import type { BackupAdded, BackupRemoved, GroupBackup, HeldGroup } from "./backup-schemas.ts"
import { type ApiError, apiError, InvalidFileName, isApiErrorTag } from "./errors.ts"
import {
  type CopiesSummary,
  type CreateGroup,
  type FileCopies,
  FileInfo,
  type GroupDetail,
  type GroupSummary,
  type GroupTransport,
  type Health,
  type InviteTier,
  type JoinGroup,
  type Member,
  type MemberRemoved,
  type PairingResult,
  type Reachability,
  type RepoSummary,
  type ServerEvent,
  type SignInCode,
  type Status,
  type SyncReport,
} from "./schemas.ts"
import { hasXhr, xhrPut } from "./xhr-upload.ts"

/** The request never got an answer of the API's shape: connection refused, cut, or garbled. */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export type ClientError = ApiError | TransportError

export interface ClientOptions {
  /** The server's URL, e.g. `http://127.0.0.1:7575` (default `http://localhost`). */
  readonly baseUrl?: string
  /** The bearer token (`<dataDir>/rpc-token`); without it only `health` answers. */
  readonly token?: string
  /**
   * The transport; default the runtime's `fetch`. In Node, undici's client from
   * `@effect/platform-node` reaches a unix socket
   * (`NodeHttpClient.layerUndiciOptions({ connect: { socketPath } })`).
   */
  readonly httpClient?: HttpClient.HttpClient
}

/**
 * What `files.upload` sends: a byte stream (streamed as it is read), bytes or a `Blob`
 * (a browser `File`; sent as one body, which is what browsers can stream over
 * HTTP/1.1), or a local file's path (Node only).
 */
export type UploadInput<E = never> = Stream.Stream<Uint8Array, E> | Uint8Array | Blob | string

export interface UploadOptions<E = never> {
  /**
   * Called with the bytes sent so far: as a stream is read; for bytes and a `Blob`, as the
   * browser sends them (XHR, with the default transport) or once when sent (elsewhere).
   */
  readonly onProgress?: (bytesSent: number) => Effect.Effect<void, E>
}

export interface DownloadOptions {
  /** Bytes `start` to `end` (inclusive; default the end of the file). */
  readonly range?: { readonly start: number; readonly end?: number }
}

export interface Download {
  /** The file's size in bytes (plaintext). */
  readonly size: number
  /** The part sent (inclusive), for a range request; the whole file otherwise. */
  readonly start: number
  readonly end: number
  readonly bytes: Stream.Stream<Uint8Array, ClientError>
}

/** A repo of a group: its record key, or `"mine"` for the member's own. */
export type RepoKey = string

export interface RpcClient {
  readonly health: Effect.Effect<Health, ClientError>
  /** The API's OpenAPI document (`GET /openapi.json`; needs the token like every route but health). */
  readonly openapi: Effect.Effect<OpenApi.OpenAPISpec, ClientError>
  /** The API's HTML docs page (`GET /docs`; needs the token). */
  readonly docs: Effect.Effect<string, ClientError>
  readonly status: Effect.Effect<Status, ClientError>
  /** Server-sent events as they happen (heartbeats left out); ends with the connection. */
  readonly events: Stream.Stream<ServerEvent, ClientError>
  /**
   * The event stream, once the server has subscribed it (its first heartbeat arrived):
   * nothing that happens after this effect completes is missed. Read it in the same scope.
   */
  readonly subscribe: Effect.Effect<
    Stream.Stream<ServerEvent, ClientError>,
    ClientError,
    Scope.Scope
  >
  readonly groups: {
    readonly list: Effect.Effect<ReadonlyArray<GroupSummary>, ClientError>
    readonly create: (body: CreateGroup) => Effect.Effect<GroupDetail, ClientError>
    readonly join: (body: JoinGroup) => Effect.Effect<GroupDetail, ClientError>
    readonly get: (group: string) => Effect.Effect<GroupDetail, ClientError>
    readonly leave: (group: string) => Effect.Effect<void, ClientError>
    /** Forgets the group here without leaving it (after pairing, on the old device). */
    readonly forget: (group: string) => Effect.Effect<void, ClientError>
    readonly invite: (group: string, tier: InviteTier) => Effect.Effect<string, ClientError>
    readonly sync: (group: string) => Effect.Effect<SyncReport, ClientError>
    readonly members: (group: string) => Effect.Effect<ReadonlyArray<Member>, ClientError>
    /** Manager: renames the group. */
    readonly rename: (group: string, name: string) => Effect.Effect<GroupDetail, ClientError>
    /** Manager: `private` or `direct`; the group's detail after the change. */
    readonly setTransport: (
      group: string,
      transport: GroupTransport,
    ) => Effect.Effect<GroupDetail, ClientError>
    /** A round trip to the member in `slot` over its private route, now. */
    readonly reachability: (group: string, slot: number) => Effect.Effect<Reachability, ClientError>
    /** Manager: removes the member in `slot`; the group has a new key from then on (`group`). */
    readonly removeMember: (
      group: string,
      slot: number,
    ) => Effect.Effect<MemberRemoved, ClientError>
    /** Renames this member (its own slot only). */
    readonly renameMember: (
      group: string,
      slot: number,
      name: string,
    ) => Effect.Effect<void, ClientError>
    readonly repos: (group: string) => Effect.Effect<ReadonlyArray<RepoSummary>, ClientError>
    /** How many own files have at least `atLeast` copies off this device (asked now). */
    readonly copies: (group: string, atLeast?: number) => Effect.Effect<CopiesSummary, ClientError>
    /** The group's copy target (`null`: none). */
    readonly copiesTarget: (group: string) => Effect.Effect<number | null, ClientError>
    readonly setCopiesTarget: (
      group: string,
      atLeast: number | null,
    ) => Effect.Effect<number | null, ClientError>
  }
  readonly files: {
    readonly list: (
      group: string,
      repo: RepoKey,
    ) => Effect.Effect<ReadonlyArray<FileInfo>, ClientError>
    /** Writes `input` into the member's own repo; streams are never held whole. */
    readonly upload: <E = never>(
      group: string,
      name: string,
      input: UploadInput<E>,
      options?: UploadOptions<E>,
    ) => Effect.Effect<FileInfo, ClientError | E>
    /** The file's bytes, streamed; answered (size, errors) before the first byte. */
    readonly download: (
      group: string,
      repo: RepoKey,
      name: string,
      options?: DownloadOptions,
    ) => Effect.Effect<Download, ClientError, Scope.Scope>
    readonly delete: (group: string, name: string) => Effect.Effect<void, ClientError>
    /** Who holds the file off this device, each asked to prove it now. */
    readonly copies: (
      group: string,
      repo: RepoKey,
      name: string,
    ) => Effect.Effect<FileCopies, ClientError>
    readonly pin: (group: string, repo: RepoKey, name: string) => Effect.Effect<void, ClientError>
    readonly unpin: (group: string, repo: RepoKey, name: string) => Effect.Effect<void, ClientError>
  }
  readonly pairing: {
    /** A pairing link for the given groups (default: every group it can move). A secret. */
    readonly makeLink: (groups?: ReadonlyArray<string>) => Effect.Effect<string, ClientError>
    readonly pair: (link: string) => Effect.Effect<PairingResult, ClientError>
  }
  /** Browser sign-in: a one-time code (needs the token), and the code exchanged for it. */
  readonly signIn: {
    readonly code: Effect.Effect<SignInCode, ClientError>
    /** The bearer token for a valid code (no token needed); the code is spent. */
    readonly exchange: (code: string) => Effect.Effect<string, ClientError>
  }
  /** Backup servers, each named by its `save+dweb:backup` descriptor link. */
  readonly backups: {
    readonly add: (group: string, link: string) => Effect.Effect<BackupAdded, ClientError>
    /** The backup servers the group's members list. */
    readonly forGroup: (group: string) => Effect.Effect<ReadonlyArray<GroupBackup>, ClientError>
    readonly remove: (
      group: string,
      link: string,
      force?: boolean,
    ) => Effect.Effect<BackupRemoved, ClientError>
    /** `remove` by the server's key, with the link kept here (`kept` in `forGroup`). */
    readonly removeServer: (
      group: string,
      server: string,
      force?: boolean,
    ) => Effect.Effect<BackupRemoved, ClientError>
    /** The groups the server of `link` holds. */
    readonly held: (link: string) => Effect.Effect<ReadonlyArray<HeldGroup>, ClientError>
  }
}

const describe = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "message" in cause
    ? String((cause as { message: unknown }).message)
    : String(cause)

/** API errors pass; anything else (client, decoding) becomes a `TransportError`. */
const toClientError = (error: unknown): ClientError =>
  typeof error === "object" &&
  error !== null &&
  "_tag" in error &&
  typeof error._tag === "string" &&
  isApiErrorTag(error._tag)
    ? (error as ApiError)
    : new TransportError({ message: describe(error), cause: error })

const call = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, ClientError, R> =>
  Effect.mapError(effect, toClientError)

const ErrorBody = Schema.Struct({ error: Schema.String, message: Schema.String })
const decodeErrorBody = Schema.decodeUnknownOption(Schema.fromJsonString(ErrorBody))

/** The API error in a non-2xx answer's body, or a `TransportError` naming the status. */
const errorOfBody = (status: number, text: string): ClientError => {
  const body = decodeErrorBody(text)
  if (Option.isSome(body) && isApiErrorTag(body.value.error)) {
    return apiError(body.value.error, body.value.message)
  }
  return new TransportError({ message: `HTTP ${status} without an API error body` })
}

const errorOf = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(
    Effect.orElseSucceed(response.text, () => ""),
    (text) => errorOfBody(response.status, text),
  )

/** "." and ".." cannot travel in a URL path (they would be resolved away). */
const checkSegment = (name: string) =>
  name === "." || name === ".."
    ? Effect.fail(new InvalidFileName({ message: `invalid file name (DotSegment): "${name}"` }))
    : Effect.void

const fileStream = (path: string): Stream.Stream<Uint8Array, TransportError> =>
  Stream.unwrap(
    Effect.map(
      Effect.try({
        try: () => readFileStream(path),
        catch: (cause) => new TransportError({ message: describe(cause), cause }),
      }),
      (chunks) =>
        Stream.fromAsyncIterable(
          chunks,
          (cause) => new TransportError({ message: `reading ${path}: ${describe(cause)}`, cause }),
        ),
    ),
  )

const decodeFileInfo = Schema.decodeUnknownOption(Schema.fromJsonString(FileInfo))

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/

/** What an OpenAPI document must have to be taken as one (the rest passes as it came). */
const isOpenApiDocument = Schema.is(
  Schema.Struct({
    openapi: Schema.String,
    info: Schema.Struct({ title: Schema.String }),
    paths: Schema.Record(Schema.String, Schema.Unknown),
  }),
)

/**
 * A client for a save-dweb daemon (its `url` and `token`), living in the current scope
 * (a transport's connection pool closes with it).
 */
export const makeClient = (options: ClientOptions): Effect.Effect<RpcClient, never, Scope.Scope> =>
  Effect.gen(function* () {
    const baseUrl = (options.baseUrl ?? "http://localhost").replace(/\/$/, "")
    const http =
      options.httpClient ??
      Context.get(yield* Layer.build(FetchHttpClient.layer), HttpClient.HttpClient)
    const authed = (request: HttpClientRequest.HttpClientRequest) =>
      options.token === undefined ? request : HttpClientRequest.bearerToken(request, options.token)
    const client = yield* HttpApiClient.make(Api, {
      baseUrl,
      transformClient: HttpClient.mapRequest(authed),
    }).pipe(Effect.provideService(HttpClient.HttpClient, http))

    const filePath = (group: string, repo: RepoKey, name: string) =>
      `${baseUrl}/${["v1", "groups", group, "repos", repo, "files", name].map(encodeURIComponent).join("/")}`

    const send = (request: HttpClientRequest.HttpClientRequest) =>
      http
        .execute(authed(request))
        .pipe(Effect.mapError((e) => new TransportError({ message: describe(e), cause: e })))

    /**
     * Bytes or a Blob as one request body (no stream: browsers send those over HTTP/1.1).
     * Its progress, when asked for, comes once when sent, or as it goes over the runtime's
     * own XHR in a browser using the default transport (`hasXhr`: never in Node).
     */
    const uploadWhole = <E>(
      group: string,
      name: string,
      body: Uint8Array | Blob,
      onProgress: UploadOptions<E>["onProgress"],
    ): Effect.Effect<FileInfo, ClientError | E> =>
      Effect.gen(function* () {
        const size = body instanceof Uint8Array ? body.length : body.size
        const viaXhr =
          onProgress !== undefined &&
          options.httpClient === undefined &&
          (yield* FetchHttpClient.Fetch) === globalThis.fetch &&
          hasXhr()
        const answer = viaXhr
          ? yield* putWithXhr(filePath(group, "mine", name), body, onProgress)
          : yield* putWhole(filePath(group, "mine", name), body, size)
        if (answer.status !== 201)
          return yield* Effect.fail(errorOfBody(answer.status, answer.text))
        const info = decodeFileInfo(answer.text)
        if (Option.isNone(info)) {
          return yield* new TransportError({ message: "the upload's answer is not a FileInfo" })
        }
        if (onProgress !== undefined && !viaXhr) yield* onProgress(size)
        return info.value
      })

    const putWhole = (url: string, body: Uint8Array | Blob, size: number) =>
      Effect.gen(function* () {
        const response = yield* send(
          HttpClientRequest.put(url).pipe(
            HttpClientRequest.setBody(
              HttpBody.raw(body, { contentType: "application/octet-stream", contentLength: size }),
            ),
          ),
        )
        const text = yield* response.text.pipe(
          Effect.mapError((e) => new TransportError({ message: describe(e), cause: e })),
        )
        return { status: response.status, text }
      })

    const putWithXhr = <E>(
      url: string,
      body: Uint8Array | Blob,
      onProgress: (bytesSent: number) => Effect.Effect<void, E>,
    ): Effect.Effect<{ readonly status: number; readonly text: string }, TransportError | E> =>
      Effect.gen(function* () {
        const headers: Record<string, string> = { "content-type": "application/octet-stream" }
        if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
        let answer: { readonly status: number; readonly text: string } | undefined
        let reported = -1
        yield* Stream.runForEach(
          Stream.mapError(
            xhrPut(url, headers, body),
            (e) => new TransportError({ message: describe(e), cause: e }),
          ),
          (event): Effect.Effect<void, E> => {
            if (event._tag === "Answered") {
              answer = event
              return Effect.void
            }
            if (event.bytes === reported) return Effect.void
            reported = event.bytes
            return onProgress(event.bytes)
          },
        )
        if (answer === undefined) {
          return yield* new TransportError({ message: "the upload ended without an answer" })
        }
        return answer
      })

    const upload = <E>(
      group: string,
      name: string,
      input: UploadInput<E>,
      uploadOptions?: UploadOptions<E>,
    ): Effect.Effect<FileInfo, ClientError | E> =>
      Effect.gen(function* () {
        yield* checkSegment(name)
        if (typeof input === "string")
          return yield* uploadStream(group, name, fileStream(input), uploadOptions)
        if (Stream.isStream(input)) return yield* uploadStream(group, name, input, uploadOptions)
        return yield* uploadWhole(group, name, input, uploadOptions?.onProgress)
      })

    const uploadStream = <E, S>(
      group: string,
      name: string,
      source: Stream.Stream<Uint8Array, S>,
      uploadOptions?: UploadOptions<E>,
    ): Effect.Effect<FileInfo, ClientError | E | S> =>
      Effect.gen(function* () {
        let sent = 0
        const onProgress = uploadOptions?.onProgress
        const counted =
          onProgress === undefined
            ? source
            : Stream.tap(source, (chunk) => {
                sent += chunk.length
                return onProgress(sent)
              })
        // The body's own failure must come out as itself, not as a transport failure.
        let bodyFailure: { readonly error: E | S } | undefined
        const body = Stream.tapError(counted, (error) =>
          Effect.sync(() => {
            bodyFailure = { error }
          }),
        )
        const result = yield* Effect.result(
          client.files.upload({ params: { group, repo: "mine", name }, payload: body }),
        )
        if (result._tag === "Success") return result.success
        if (bodyFailure !== undefined) return yield* Effect.fail(bodyFailure.error)
        return yield* Effect.fail(toClientError(result.failure))
      })

    /** The text of a route outside the HttpApi (`/openapi.json`, `/docs`), with the token. */
    const describeText = (path: string) =>
      Effect.gen(function* () {
        const response = yield* send(HttpClientRequest.get(`${baseUrl}${path}`))
        if (response.status !== 200) return yield* Effect.flatMap(errorOf(response), Effect.fail)
        return yield* response.text.pipe(
          Effect.mapError((e) => new TransportError({ message: describe(e), cause: e })),
        )
      })

    const openapi = Effect.gen(function* () {
      const text = yield* describeText("/openapi.json")
      const parsed = yield* Effect.try({
        try: (): unknown => JSON.parse(text),
        catch: (cause) => new TransportError({ message: "/openapi.json is not JSON", cause }),
      })
      if (!isOpenApiDocument(parsed)) {
        return yield* new TransportError({ message: "/openapi.json is not an OpenAPI document" })
      }
      return parsed as unknown as OpenApi.OpenAPISpec
    })

    const download = (
      group: string,
      repo: RepoKey,
      name: string,
      downloadOptions?: DownloadOptions,
    ): Effect.Effect<Download, ClientError, Scope.Scope> =>
      Effect.gen(function* () {
        yield* checkSegment(name)
        let request = HttpClientRequest.get(filePath(group, repo, name))
        const range = downloadOptions?.range
        if (range !== undefined) {
          request = HttpClientRequest.setHeader(
            request,
            "range",
            `bytes=${range.start}-${range.end ?? ""}`,
          )
        }
        const response = yield* send(request)
        if (response.status !== 200 && response.status !== 206) {
          return yield* Effect.flatMap(errorOf(response), Effect.fail)
        }
        const bytes = Stream.mapError(
          response.stream,
          (e) => new TransportError({ message: describe(e), cause: e }),
        )
        const length = Number(response.headers["content-length"])
        if (response.status === 200) {
          return { size: length, start: 0, end: length - 1, bytes } satisfies Download
        }
        const match = CONTENT_RANGE.exec(response.headers["content-range"] ?? "")
        if (match === null) {
          return yield* new TransportError({ message: "206 without a Content-Range" })
        }
        return {
          size: Number(match[3]),
          start: Number(match[1]),
          end: Number(match[2]),
          bytes,
        } satisfies Download
      })

    const allEvents = Stream.unwrap(call(client.events())).pipe(Stream.mapError(toClientError))
    const notHeartbeat = (event: ServerEvent) => event._tag !== "Heartbeat"

    const subscribe = Effect.gen(function* () {
      const pull = yield* Stream.toPull(allEvents)
      // The server sends a heartbeat first, once it has subscribed.
      let first: ReadonlyArray<ServerEvent> = []
      while (!first.some((e) => e._tag === "Heartbeat")) {
        const chunk = yield* pull.pipe(
          Pull.catchDone(() =>
            Effect.fail(new TransportError({ message: "the event stream ended at once" })),
          ),
        )
        first = [...first, ...chunk]
      }
      return Stream.concat(
        Stream.fromIterable(first.filter(notHeartbeat)),
        Stream.fromPull(Effect.succeed(pull)).pipe(Stream.filter(notHeartbeat)),
      )
    })

    const rpc: RpcClient = {
      health: call(client.health()),
      openapi,
      docs: describeText("/docs"),
      status: call(client.status()),
      events: Stream.filter(allEvents, notHeartbeat),
      subscribe,
      signIn: {
        code: call(client.signIn.code()),
        exchange: (code) =>
          call(Effect.map(client.signIn.exchange({ payload: { code } }), (r) => r.token)),
      },
      groups: {
        list: call(client.groups.list()),
        create: (payload) => call(client.groups.create({ payload })),
        join: (payload) => call(client.groups.join({ payload })),
        get: (group) => call(client.groups.get({ params: { group } })),
        leave: (group) => call(client.groups.leave({ params: { group } })),
        forget: (group) => call(client.groups.forget({ params: { group } })),
        invite: (group, tier) =>
          call(
            Effect.map(
              client.groups.invite({ params: { group }, payload: { tier } }),
              (r) => r.link,
            ),
          ),
        sync: (group) => call(client.groups.sync({ params: { group } })),
        members: (group) => call(client.groups.members({ params: { group } })),
        rename: (group, name) =>
          call(client.groups.rename({ params: { group }, payload: { name } })),
        setTransport: (group, transport) =>
          call(client.groups.setTransport({ params: { group }, payload: { transport } })),
        reachability: (group, member) =>
          call(client.groups.reachability({ params: { group, member } })),
        removeMember: (group, member) =>
          call(client.groups.removeMember({ params: { group, member } })),
        renameMember: (group, member, name) =>
          call(client.groups.renameMember({ params: { group, member }, payload: { name } })),
        repos: (group) => call(client.groups.repos({ params: { group } })),
        copies: (group, atLeast) =>
          call(
            client.groups.copies({
              params: { group },
              query: atLeast === undefined ? {} : { atLeast },
            }),
          ),
        copiesTarget: (group) =>
          call(Effect.map(client.groups.copiesTarget({ params: { group } }), (t) => t.atLeast)),
        setCopiesTarget: (group, atLeast) =>
          call(
            Effect.map(
              client.groups.setCopiesTarget({ params: { group }, payload: { atLeast } }),
              (t) => t.atLeast,
            ),
          ),
      },
      files: {
        list: (group, repo) => call(client.files.list({ params: { group, repo } })),
        upload,
        download,
        delete: (group, name) =>
          Effect.andThen(
            checkSegment(name),
            call(client.files.delete({ params: { group, repo: "mine", name } })),
          ),
        copies: (group, repo, name) =>
          Effect.andThen(
            checkSegment(name),
            call(client.files.copies({ params: { group, repo, name } })),
          ),
        pin: (group, repo, name) =>
          Effect.andThen(
            checkSegment(name),
            call(client.files.pin({ params: { group, repo, name } })),
          ),
        unpin: (group, repo, name) =>
          Effect.andThen(
            checkSegment(name),
            call(client.files.unpin({ params: { group, repo, name } })),
          ),
      },
      pairing: {
        makeLink: (groups) =>
          call(
            Effect.map(
              client.pairing.makeLink({ payload: groups === undefined ? {} : { groups } }),
              (r) => r.link,
            ),
          ),
        pair: (link) => call(client.pairing.pair({ payload: { link } })),
      },
      backups: {
        add: (group, link) => call(client.backups.add({ params: { group }, payload: { link } })),
        forGroup: (group) => call(client.backups.forGroup({ params: { group } })),
        remove: (group, link, force) =>
          call(
            client.backups.remove({
              params: { group },
              payload: force === undefined ? { link } : { link, force },
            }),
          ),
        removeServer: (group, server, force) =>
          call(
            client.backups.removeServer({
              params: { group, server },
              query: force === undefined ? {} : { force: force ? "true" : "false" },
            }),
          ),
        held: (link) => call(client.backups.held({ payload: { link } })),
      },
    }
    return rpc
  })
