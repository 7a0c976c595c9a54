// What `status` reports: the network (when on Veilid), the Iroh node, known and loaded groups.
import type { BlobStoreService } from "@save-dweb/blob-store"
import { Effect, Option } from "effect"
import type { GroupRegistry } from "./group-registry.ts"
import type { KnownGroupsStore } from "./known-groups.ts"
import type { NetworkStatus } from "./node.ts"
import type { BackendStatus } from "./shape.ts"

export interface StatusDeps {
  readonly known: KnownGroupsStore
  readonly store: BlobStoreService
  readonly registry: GroupRegistry
  /** This node's network; without it `status` reports none. */
  readonly network: { readonly status: Effect.Effect<NetworkStatus> } | undefined
}

export const makeStatus = ({ known, store, registry, network }: StatusDeps) =>
  Effect.gen(function* () {
    const knownGroups = yield* Effect.orElseSucceed(known.all, () => [])
    const networkStatus = network === undefined ? undefined : yield* network.status
    const source = yield* Effect.option(store.source())
    const iroh =
      Option.isSome(source) && source.value._tag === "IrohSource"
        ? { nodeId: source.value.nodeId, addresses: source.value.addresses }
        : undefined
    const result: BackendStatus = {
      network: networkStatus,
      iroh,
      groups: { known: knownGroups.length, loaded: yield* registry.loadedCount },
    }
    return result
  }).pipe(Effect.withSpan("Backend.status"))
