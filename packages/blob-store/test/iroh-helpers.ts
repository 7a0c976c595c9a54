import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit, Scope } from "effect"
import type { BlobStoreService } from "../src/blob-store.ts"
import type { IrohStoreConfig } from "../src/iroh-node.ts"
import { makeIroh } from "../src/iroh-store.ts"

/** A scoped temp directory, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "blob-store-test-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true })),
)

/** Offline, loopback-only settings for tests. */
export const testConfig = (dir: string, extra: Partial<IrohStoreConfig> = {}): IrohStoreConfig => ({
  dir,
  ipv4Addr: "127.0.0.1:0",
  ipv6Addr: "[::1]:0",
  gcIntervalMillis: 1_000,
  fetchTimeoutMillis: 5_000,
  ...extra,
})

/** A real Iroh store in a fresh temp dir (the dir outlives the node within the scope). */
export const irohStore = (extra: Partial<IrohStoreConfig> = {}) =>
  Effect.flatMap(tempDir, (dir) => makeIroh(testConfig(dir, extra)))

export interface ClosableStore {
  readonly dir: string
  readonly store: () => BlobStoreService
  /** Shuts the node down now (the directory stays until the outer scope ends). */
  readonly close: Effect.Effect<void>
  /** Starts a new node on the same directory. */
  readonly restart: Effect.Effect<BlobStoreService, unknown>
}

/** A store whose node a test can stop and start again on the same directory. */
export const closableStore = (extra: Partial<IrohStoreConfig> = {}) =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    let scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    let current = yield* makeIroh(testConfig(dir, extra)).pipe(Scope.provide(scope))
    const close = Effect.suspend(() => Scope.close(scope, Exit.void))
    const restart = Effect.gen(function* () {
      yield* close
      scope = yield* Scope.make()
      current = yield* makeIroh(testConfig(dir, extra)).pipe(Scope.provide(scope))
      return current
    })
    const handle: ClosableStore = { dir, store: () => current, close, restart }
    return handle
  })
