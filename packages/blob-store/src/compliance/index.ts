// The behaviour every BlobStore layer must have, as tests: the memory layer and the Iroh
// layer both run this suite. One module per topic; they share three stores (and one a test
// may close), started once per suite, in parallel. The tunnel transport's topic has stores
// and a memory network of its own.
import { layer } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { blobTests } from "./blobs.ts"
import { closeTests } from "./close.ts"
import { collectionTests } from "./collections.ts"
import { fetchTests } from "./fetch.ts"
import { type ComplianceOptions, ComplianceStores } from "./support.ts"
import { tunnelTransportCompliance } from "./tunnel.ts"

export type { ComplianceOptions } from "./support.ts"

/**
 * Defines the compliance tests (vitest, `@effect/vitest`) under `name`. Call it from a
 * test file with the layer's own store factory. It includes the tunnel transport
 * (serving and fetching over `Tunnels.layerMemory`).
 */
export const blobStoreCompliance = (name: string, options: ComplianceOptions): void => {
  const timeout = options.timeout ?? 60_000
  const stores = Layer.effect(
    ComplianceStores,
    Effect.gen(function* () {
      const doomedScope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(doomedScope, Exit.void))
      const [a, b, c, doomed] = yield* Effect.all(
        [
          options.makeStore,
          options.makeStore,
          options.makeStore,
          options.makeStore.pipe(Scope.provide(doomedScope)),
        ] as const,
        { concurrency: "unbounded" },
      )
      return { a, b, c, doomed, closeDoomed: Scope.close(doomedScope, Exit.void) }
    }),
  )

  layer(stores, { timeout: "180 seconds", excludeTestServices: true })(name, (it) => {
    blobTests(it, timeout)
    collectionTests(it, timeout)
    fetchTests(it, timeout)
    closeTests(it, timeout)
  })
  tunnelTransportCompliance(`${name}: tunnel transport`, options)
}
