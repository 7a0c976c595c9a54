// What the tunnel transport's compliance topics share: three stores on a memory network of
// their own, providers serving a store on it, and raw protocol calls.
import { assert } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import {
  type Handler,
  MemoryNetwork,
  makeTunnelsMemory,
  Tunnels,
  type TunnelsShape,
} from "@save-dweb/tunnels"
import { Context, Effect, Layer, Result, type Scope, Stream } from "effect"
import { BlobStore, type BlobStoreService } from "../blob-store.ts"
import type { TunnelSource } from "../source.ts"
import {
  BLOBS_PROTOCOL,
  type BlobRequest,
  type BlobResponse,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  HEADER_PREFIX_BYTES,
} from "../tunnel-protocol.ts"
import { type ServeBlobsOptions, serveBlobs } from "../tunnel-provider.ts"
import { tunnelSource } from "../tunnel-source.ts"
import type { ComplianceOptions } from "./support.ts"

export interface World {
  /** Providers. */
  readonly a: BlobStoreService
  readonly b: BlobStoreService
  /** Fetches. */
  readonly c: BlobStoreService
  /** A new tunnels node on the suite's memory network, for the test's scope. */
  readonly node: Effect.Effect<TunnelsShape, unknown, Scope.Scope>
}

export class TunnelWorld extends Context.Service<TunnelWorld, World>()(
  "@save-dweb/blob-store/compliance/TunnelWorld",
) {}

export const tunnelWorld = (options: ComplianceOptions) =>
  Layer.effect(
    TunnelWorld,
    Effect.gen(function* () {
      const network = yield* MemoryNetwork
      const [a, b, c] = yield* Effect.all(
        [options.makeStore, options.makeStore, options.makeStore],
        { concurrency: "unbounded" },
      )
      const node = makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, network))
      return { a, b, c, node }
    }),
  ).pipe(Layer.provide(MemoryNetwork.layer()))

/**
 * Serves `store` on a new tunnels node (with `serveBlobs`, or `handler` if given); returns
 * a source that reaches it from `client` (with `key`, or the serving key).
 */
export const served = (
  world: World,
  client: TunnelsShape,
  store: BlobStoreService,
  id: string,
  options: Partial<ServeBlobsOptions> & {
    readonly callerKey?: SecretKey
    readonly handler?: Handler<unknown>
  } = {},
) =>
  Effect.gen(function* () {
    const key = yield* SecretKey.generate
    const provider = yield* world.node
    if (options.handler === undefined)
      yield* serveBlobs({ keys: [key], ...options }).pipe(
        Effect.provideService(BlobStore, store),
        Effect.provideService(Tunnels, provider),
      )
    else yield* provider.serve(BLOBS_PROTOCOL, options.handler, { keys: [key] })
    const peer = yield* client.connect((yield* provider.route).blob, options.callerKey ?? key)
    return tunnelSource(peer, { id })
  })

/** The source, and the tag of every request made through it (one per tunnel call). */
export const recorded = (source: TunnelSource) => {
  const requests: Array<BlobRequest> = []
  const peer = {
    ...source.peer,
    open: <E, R>(protocol: string, input: Stream.Stream<Uint8Array, E, R>) =>
      source.peer.open(
        protocol,
        Stream.tap(input, (chunk) =>
          Effect.sync(() => {
            const request = decodeRequest(chunk)
            if (Result.isSuccess(request)) requests.push(request.success)
          }),
        ),
      ),
  }
  return { source: { ...source, peer }, requests, tags: () => requests.map((r) => r._tag) }
}

/** One raw protocol call: every header in the reply, each with the bytes after it. */
export const rawAnswers = (source: TunnelSource, request: BlobRequest) =>
  Effect.gen(function* () {
    const reply = yield* Stream.mkUint8Array(
      source.peer.open(BLOBS_PROTOCOL, Stream.succeed(encodeRequest(request))),
    )
    const answers: Array<{ header: BlobResponse; body: Uint8Array }> = []
    let at = 0
    while (at < reply.length) {
      const length = Buffer.from(reply).readUInt32BE(at)
      const start = at + HEADER_PREFIX_BYTES
      const header = decodeResponse(reply.subarray(start, start + length))
      assert.isTrue(Result.isSuccess(header))
      const decoded = Result.getOrThrow(header)
      const bodyLength = decoded._tag === "Found" ? decoded.length : 0
      answers.push({
        header: decoded,
        body: reply.subarray(start + length, start + length + bodyLength),
      })
      at = start + length + bodyLength
    }
    return answers
  })

/** One raw protocol call answered by one header: it and the bytes after it. */
export const rawCall = (source: TunnelSource, request: BlobRequest) =>
  Effect.gen(function* () {
    const reply = yield* Stream.mkUint8Array(
      source.peer.open(BLOBS_PROTOCOL, Stream.succeed(encodeRequest(request))),
    )
    const length = Buffer.from(reply).readUInt32BE(0)
    const header = decodeResponse(reply.subarray(HEADER_PREFIX_BYTES, HEADER_PREFIX_BYTES + length))
    assert.isTrue(Result.isSuccess(header))
    return {
      header: Result.getOrThrow(header),
      body: reply.subarray(HEADER_PREFIX_BYTES + length),
    }
  })
