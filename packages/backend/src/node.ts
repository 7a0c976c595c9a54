// One node's services, wired in one place: DHT records, tunnels, a blob store and the
// known groups, with groups and data repos over them. The backend, the backup server and
// the test supports (on memory networks) all build their node here.
import { join } from "node:path"
import {
  BlobStore,
  type BlobStoreService,
  type IrohStoreConfig,
  layer as irohLayer,
  type StoreError,
} from "@save-dweb/blob-store"
import { type DataReposShape, makeDataRepos, type SyncStateStore } from "@save-dweb/data-repo"
import { type DhtBackend, type DhtRecordsShape, makeDhtRecords } from "@save-dweb/dht-records"
import { type GroupsShape, makeGroups } from "@save-dweb/group"
import { makeTunnels, type RouteUnavailable, type TunnelsShape } from "@save-dweb/tunnels"
import {
  decodeConfig,
  makeConfig,
  makeVeilid,
  Veilid,
  type VeilidConfig,
  type VeilidError,
  type VeilidLayerOptions,
  type VeilidShape,
} from "@save-dweb/veilid"
import { Context, Effect, Layer, Option, Ref, type Scope, Stream } from "effect"
import { type KnownGroupsStore, tableStoreKnownGroups } from "./known-groups.ts"
import {
  isStorageLocked,
  PassphraseRequired,
  type UnlockedStorage,
  veilidStoragePassword,
} from "./storage-lock.ts"
import { tableStoreSyncState } from "./sync-state.ts"

/** One node's services; each lives in the scope the node was made in. */
export interface Node {
  readonly records: DhtRecordsShape
  readonly tunnels: TunnelsShape
  readonly store: BlobStoreService
  readonly known: KnownGroupsStore
  readonly groups: GroupsShape
  /** Over `records` and `store`, finding sources through `tunnels`. */
  readonly repos: DataReposShape
}

/**
 * A store opened with the node (the backup server's own state; by default the member's
 * sync state table): data-repo keeps the roots `syncAll` holds and the pins of other
 * members' files in its `roots`, so they survive a restart.
 */
export interface NodeState {
  readonly roots: SyncStateStore
}

/** What a node is made of besides its DHT participant, each made in this order. */
export interface NodeParts<E> {
  /** The DHT participant the records run on: the Veilid node, or a memory network's. */
  readonly dht: DhtBackend
  /** `makeTunnels()` over the Veilid node (`makeTunnelsMemory()` in tests). */
  readonly tunnels: Effect.Effect<TunnelsShape, E, Scope.Scope>
  readonly store: Effect.Effect<BlobStoreService, E, Scope.Scope>
  readonly known: Effect.Effect<KnownGroupsStore, E, Scope.Scope>
}

type WithState<E, S> = NodeParts<E> & { readonly state?: Effect.Effect<S, E, Scope.Scope> }

const wireNode = <E, S extends NodeState>(parts: WithState<E, S>) =>
  Effect.gen(function* () {
    const records = yield* makeDhtRecords(parts.dht)
    const tunnels = yield* parts.tunnels
    const store = yield* parts.store
    const known = yield* parts.known
    const state = parts.state === undefined ? undefined : yield* parts.state
    const repos = makeDataRepos(records, store, {
      tunnels,
      ...(state === undefined ? {} : { syncState: state.roots }),
    })
    return { records, tunnels, store, known, groups: makeGroups(records), repos, state }
  })

/**
 * Records → tunnels → blob store → known groups (→ the caller's `state`), then groups and
 * repos over them, in the current scope: closing it releases them in reverse order.
 */
export function makeNodeWith<E>(parts: NodeParts<E>): Effect.Effect<Node, E, Scope.Scope>
export function makeNodeWith<E, S extends NodeState>(
  parts: NodeParts<E> & { readonly state: Effect.Effect<S, E, Scope.Scope> },
): Effect.Effect<Node & { readonly state: S }, E, Scope.Scope>
export function makeNodeWith<E, S extends NodeState>(parts: WithState<E, S>) {
  return wireNode(parts)
}

export interface NodeConfig {
  /** Everything the node keeps: `veilid/` (table, protected, block stores) and `iroh/`. */
  readonly storageDir: string
  /**
   * `"public"` (default): the public Veilid network. Otherwise a full veilid-core config
   * for a private network, e.g. the testnet's `nodeConfig(name)`; its store directories
   * are moved under `storageDir/veilid`.
   */
  readonly network?: "public" | { readonly veilidConfig: unknown }
  /** Partitions Veilid's storage (public network only); default `save-dweb`. */
  readonly programName?: string
  readonly veilid?: VeilidLayerOptions
  /** Iroh settings besides its directory (`storageDir/iroh`). */
  readonly iroh?: Omit<IrohStoreConfig, "dir">
  /**
   * What `unlockStorage(storageDir, passphrase)` gives: Veilid's table store is protected
   * by it and known groups are sealed under it. A `storageDir` locked with a passphrase
   * refuses to start without it.
   */
  readonly storage?: UnlockedStorage
}

/** This node's network, as `status` reports it. */
export interface NetworkStatus {
  /** Veilid's attachment state, e.g. `AttachedGood`. */
  readonly state: string
  readonly publicInternetReady: boolean
  /** Peers in Veilid's routing table (from its last `Network` update). */
  readonly peers: number
}

/** A node on Veilid: its services, the Veilid node itself and its network's status. */
export interface VeilidNode extends Node {
  readonly veilid: VeilidShape
  readonly network: { readonly status: Effect.Effect<NetworkStatus> }
}

export type NodeError = VeilidError | StoreError | RouteUnavailable | PassphraseRequired

/**
 * The Veilid config for `config`: public by default, or the given private network's.
 * With `storage`, Veilid's device encryption key (which encrypts its table store) is
 * protected by a password from the storage key; the first time (`fresh`), an existing
 * unprotected key is protected on the way.
 */
export const veilidConfigOf = (config: NodeConfig): Effect.Effect<VeilidConfig, VeilidError> => {
  const dir = join(config.storageDir, "veilid")
  const network = config.network ?? "public"
  const base =
    network === "public"
      ? makeConfig({ programName: config.programName ?? "save-dweb", storageDir: dir, network })
      : Effect.map(
          decodeConfig(network.veilidConfig),
          (c): VeilidConfig => ({
            ...c,
            protected_store: { ...c.protected_store, directory: join(dir, "protected_store") },
            table_store: { ...c.table_store, directory: join(dir, "table_store") },
            block_store: { ...c.block_store, directory: join(dir, "block_store") },
          }),
        )
  const storage = config.storage
  if (storage === undefined) return base
  const password = veilidStoragePassword(storage)
  return Effect.map(
    base,
    (c): VeilidConfig => ({
      ...c,
      protected_store: {
        ...c.protected_store,
        device_encryption_key_password: storage.fresh ? "" : password,
        new_device_encryption_key_password: storage.fresh ? password : null,
      },
    }),
  )
}

/**
 * Veilid on `config`. The lock file is written before Veilid protects its device key with
 * the storage key, so after a crash between the two the key is still unprotected while
 * the lock file exists: Veilid refuses the password, and the start is tried once more as
 * the first one with that passphrase (`fresh`). Any other refusal (a copy's protected key
 * and another passphrase) stands.
 */
const startVeilid = (config: NodeConfig) => {
  const start = (c: NodeConfig) =>
    Effect.flatMap(veilidConfigOf(c), (veilidConfig) => makeVeilid(veilidConfig, c.veilid))
  const storage = config.storage
  if (storage === undefined || storage.fresh) return start(config)
  return start(config).pipe(
    Effect.catchIf(
      (error) => /password protected device encryption key is not valid/.test(error.message),
      () => start({ ...config, storage: { ...storage, fresh: true } }),
    ),
  )
}

/** Attachment from Veilid, peers from its last `Network` update (the only place they come). */
const trackNetwork = (veilid: VeilidShape) =>
  Effect.gen(function* () {
    const peers = yield* Ref.make(0)
    yield* (yield* veilid.subscribe).pipe(
      Stream.runForEach((update) =>
        update._tag === "Network" ? Ref.set(peers, update.peerCount) : Effect.void,
      ),
      Effect.forkScoped,
    )
    return {
      status: Effect.gen(function* () {
        const attachment = yield* Effect.option(veilid.attachment)
        const status: NetworkStatus = {
          state: Option.match(attachment, { onNone: () => "Unknown", onSome: (a) => a.state }),
          publicInternetReady: Option.match(attachment, {
            onNone: () => false,
            onSome: (a) => a.publicInternetReady,
          }),
          peers: yield* Ref.get(peers),
        }
        return status
      }),
    }
  })

/**
 * A node on Veilid, in the current scope: Veilid (started and attached) → records →
 * tunnels → the Iroh store under `storageDir/iroh` → known groups in Veilid's table store
 * → `state`, opened on the same Veilid node (default: data-repo's sync state in its own
 * table, `SYNC_STATE_DB`); closing the scope releases them in reverse.
 */
export function makeNode(config: NodeConfig): Effect.Effect<VeilidNode, NodeError, Scope.Scope>
export function makeNode<S extends NodeState>(
  config: NodeConfig,
  state: (veilid: VeilidShape) => Effect.Effect<S, VeilidError, Scope.Scope>,
): Effect.Effect<VeilidNode & { readonly state: S }, NodeError, Scope.Scope>
export function makeNode<S extends NodeState>(
  config: NodeConfig,
  state?: (veilid: VeilidShape) => Effect.Effect<S, VeilidError, Scope.Scope>,
): Effect.Effect<VeilidNode & { readonly state: S | undefined }, NodeError, Scope.Scope> {
  return Effect.gen(function* () {
    if (config.storage === undefined && isStorageLocked(config.storageDir))
      return yield* new PassphraseRequired({ dir: config.storageDir })
    const veilid = yield* startVeilid(config)
    const network = yield* trackNetwork(veilid)
    const node = yield* wireNode<NodeError, S>({
      dht: veilid,
      tunnels: Effect.provideService(makeTunnels(), Veilid, veilid),
      store: Effect.map(
        Layer.build(irohLayer({ ...config.iroh, dir: join(config.storageDir, "iroh") })),
        (context) => Context.get(context, BlobStore),
      ),
      known: tableStoreKnownGroups(veilid, config.storage?.key),
      state:
        state === undefined
          ? Effect.map(tableStoreSyncState(veilid), (roots) => ({ roots }) as S)
          : state(veilid),
    })
    return { ...node, veilid, network }
  })
}
