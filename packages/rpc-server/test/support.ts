// A backend on in-memory networks (DHT, tunnels, blob stores) and a server over it on
// 127.0.0.1, with a typed client; several backends may share one set of networks.
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BackendShape, makeBackend, makeNodeWith, memoryKnownGroups } from "@save-dweb/backend"
import { BlobStore, layerMemory } from "@save-dweb/blob-store"
import { makeClient, type RpcClient } from "@save-dweb/client"
import { MemoryDhtNetwork, type MemoryDhtNetworkShape } from "@save-dweb/dht-records"
import { MemoryNetwork, type MemoryNetworkShape, makeTunnelsMemory } from "@save-dweb/tunnels"
import { Context, Effect, Layer, type Scope } from "effect"
import { type Served, type ServeOptions, serve } from "../src/index.ts"

export { bytesOf, failureOf, pattern } from "@save-dweb/test-support"

export interface Networks {
  readonly dht: MemoryDhtNetworkShape
  readonly tunnels: MemoryNetworkShape
}

export const networks: Effect.Effect<Networks> = Effect.gen(function* () {
  const dht = yield* MemoryDhtNetwork.make()
  const tunnels = Context.get(yield* Layer.build(MemoryNetwork.layer()), MemoryNetwork)
  return { dht, tunnels }
}).pipe(Effect.scoped)

export const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "rpc-server-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
)

/** A backend on the memory networks, living in the current scope. */
export const memoryBackend = (nets: Networks): Effect.Effect<BackendShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const services = yield* makeNodeWith({
      dht: yield* nets.dht.participant,
      tunnels: Effect.orDie(
        makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, nets.tunnels)),
      ),
      store: Effect.map(Layer.build(layerMemory()), (context) => Context.get(context, BlobStore)),
      known: Effect.sync(memoryKnownGroups),
    })
    return yield* makeBackend({ storageDir: "(memory)", ...services })
  })

export interface Node {
  readonly backend: BackendShape
  readonly served: Served
  readonly client: RpcClient
  readonly dataDir: string
}

/** A backend, a server over it on 127.0.0.1 (any port) and a client with its token. */
export const node = (
  nets: Networks,
  options: Partial<Omit<ServeOptions, "backend">> = {},
): Effect.Effect<Node, never, Scope.Scope> =>
  Effect.gen(function* () {
    const backend = yield* memoryBackend(nets)
    const dataDir = options.dataDir ?? (yield* tempDir)
    const served = yield* Effect.orDie(serve({ listen: { port: 0 }, ...options, backend, dataDir }))
    const client = yield* makeClient({ baseUrl: served.url, token: served.token })
    return { backend, served, client, dataDir }
  })

/** A raw HTTP request (global fetch), for what the typed client would never send. */
export interface RawResponse {
  readonly status: number
  readonly headers: globalThis.Headers
  readonly body: Uint8Array
  readonly text: string
}

export const raw = (url: string, init: RequestInit = {}): Effect.Effect<RawResponse> =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    const body = new Uint8Array(await response.arrayBuffer())
    return {
      status: response.status,
      headers: response.headers,
      body,
      text: new TextDecoder().decode(body),
    }
  })
