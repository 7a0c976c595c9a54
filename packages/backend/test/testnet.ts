// Shared by the integration tests: backends on a private Veilid testnet (run inside
// `veilid-testnet exec`), temp dirs that are removed, and deadline-bound waits.
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Testnet, withTestnet } from "@save-dweb/veilid-testnet"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { type BackendShape, makeRealBackend } from "../src/index.ts"

export class Net extends Context.Service<Net, Testnet>()("@save-dweb/backend/test/Net") {}

export const NetLive = Layer.effect(Net, withTestnet())

export const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "backend-it-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
)

export interface Started {
  readonly backend: BackendShape
  readonly storageDir: string
  /** Stops the backend (idempotent); also run when the test's scope closes. */
  readonly stop: Effect.Effect<void>
}

/** A backend for testnet node `name` on `storageDir`, in a scope of its own (`stop`). */
export const start = (testnet: Testnet, name: string, storageDir: string) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const stop = Scope.close(scope, Exit.void)
    // A test that fails half-way still stops every node it started.
    yield* Effect.addFinalizer(() => stop)
    const backend: BackendShape = yield* Scope.provide(scope)(
      makeRealBackend({
        storageDir,
        network: { veilidConfig: testnet.nodeConfig(name) },
        veilid: { readyTimeout: "90 seconds" },
        iroh: { ipv4Addr: "127.0.0.1:0", ipv6Addr: "[::1]:0", fetchTimeoutMillis: 20_000 },
      }),
    )
    const started: Started = { backend, storageDir, stop }
    return started
  })

/** A backend for testnet node `name` on a new temp dir (removed after the test). */
export const startFresh = (testnet: Testnet, name: string) =>
  Effect.flatMap(tempDir, (dir) => start(testnet, name, dir))

export const timeout = 240_000
export { deadline, eventually, NotYet } from "@save-dweb/test-support"
