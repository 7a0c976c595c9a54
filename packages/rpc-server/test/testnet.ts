// Backends on a private Veilid testnet (run inside `veilid-testnet exec`) with real Iroh
// stores, each behind an RPC server on 127.0.0.1 with a typed client.
import { type BackendShape, makeRealBackend } from "@save-dweb/backend"
import { makeClient, type RpcClient } from "@save-dweb/client"
import { type Testnet, withTestnet } from "@save-dweb/veilid-testnet"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { type Served, serve } from "../src/index.ts"
import { tempDir } from "./support.ts"

export class Net extends Context.Service<Net, Testnet>()("@save-dweb/rpc-server/test/Net") {}

export const NetLive = Layer.effect(Net, withTestnet())

export interface Daemon {
  readonly backend: BackendShape
  readonly served: Served
  readonly client: RpcClient
  /** Stops server and backend (also run when the test's scope closes). */
  readonly stop: Effect.Effect<void>
}

/** A real backend for testnet node `name` on a temp dir, its server and a client. */
export const daemon = (
  testnet: Testnet,
  name: string,
  options: { readonly autoSync?: boolean } = {},
) =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const scope = yield* Scope.make()
    const stop = Scope.close(scope, Exit.void)
    yield* Effect.addFinalizer(() => stop)
    const backend = yield* Scope.provide(scope)(
      makeRealBackend({
        storageDir: dir,
        network: { veilidConfig: testnet.nodeConfig(name) },
        veilid: { readyTimeout: "90 seconds" },
        iroh: { ipv4Addr: "127.0.0.1:0", ipv6Addr: "[::1]:0", fetchTimeoutMillis: 20_000 },
        ...(options.autoSync === true ? { autoSync: { minInterval: "200 millis" } } : {}),
      }),
    )
    const served = yield* Scope.provide(scope)(
      serve({ backend, dataDir: dir, listen: { port: 0 } }),
    )
    const client = yield* Scope.provide(scope)(
      makeClient({ baseUrl: served.url, token: served.token }),
    )
    const started: Daemon = { backend, served, client, stop }
    return started
  })

export const timeout = 240_000
export { eventually } from "@save-dweb/test-support"
