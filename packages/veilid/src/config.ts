import { join } from "node:path"
import { Effect } from "effect"
import { bindingError, type VeilidError } from "./errors.ts"
import { loadNative } from "./native.ts"

/**
 * veilid-core 0.5.8's `VeilidConfig` JSON (snake_case), typed for the parts this project
 * sets; everything else passes through from `defaultConfig()` untouched. The schema
 * changes between veilid-core versions: always start from the binding's own defaults.
 */
export interface VeilidConfig {
  readonly program_name: string
  readonly namespace: string
  readonly capabilities: { readonly disable: ReadonlyArray<string> }
  readonly protected_store: {
    readonly allow_insecure_fallback: boolean
    readonly always_use_insecure_storage: boolean
    readonly directory: string
    readonly delete: boolean
    readonly device_encryption_key_password: string
    readonly [key: string]: unknown
  }
  readonly table_store: {
    readonly directory: string
    readonly delete: boolean
    readonly [key: string]: unknown
  }
  readonly block_store: { readonly directory: string; readonly delete: boolean }
  readonly network: {
    readonly network_key_password: string | null
    readonly routing_table: {
      readonly public_keys: ReadonlyArray<string>
      readonly secret_keys: ReadonlyArray<string>
      readonly bootstrap: ReadonlyArray<string>
      readonly bootstrap_keys: ReadonlyArray<string>
      readonly [key: string]: unknown
    }
    readonly rpc: { readonly default_route_hop_count: number; readonly [key: string]: unknown }
    readonly dht: {
      readonly local_max_subkey_cache_memory_mb: number
      readonly remote_max_subkey_cache_memory_mb: number
      readonly [key: string]: unknown
    }
    readonly upnp: boolean
    readonly detect_address_changes: boolean | null
    readonly protocol: {
      readonly udp: {
        readonly enabled: boolean
        readonly listen_address: string
        readonly [key: string]: unknown
      }
      readonly tcp: {
        readonly connect: boolean
        readonly listen: boolean
        readonly listen_address: string
        readonly [key: string]: unknown
      }
      readonly ws: {
        readonly connect: boolean
        readonly listen: boolean
        readonly listen_address: string
        readonly [key: string]: unknown
      }
      readonly [key: string]: unknown
    }
    readonly privacy: { readonly require_inbound_relay: boolean; readonly [key: string]: unknown }
    readonly [key: string]: unknown
  }
  /** Tuning honoured because the binding is built with veilid-core's `footgun-config`. */
  readonly internal?: unknown
  readonly [key: string]: unknown
}

/** DHT consensus tuning for small private networks (`internal.network.dht`). */
export interface DhtTuning {
  readonly getValueCount?: number
  readonly setValueCount?: number
  readonly consensusWidth?: number
  readonly minPeerCount?: number
}

/** A private Veilid network (the testnet): never joins the public one. */
export interface PrivateNetwork {
  /** Bootstrap entries: a DNS name whose TXT records list the bootstrap nodes, or dial info. */
  readonly bootstrap: ReadonlyArray<string>
  /** Keeps this network's traffic apart from every other Veilid network. */
  readonly networkKeyPassword: string
  /** Signing keys of the bootstrap TXT records; `[]` (default) accepts unsigned v0 records. */
  readonly bootstrapKeys?: ReadonlyArray<string>
  /** `IP:port` (or `IP`) to bind UDP, TCP and WS to; pins the node to its own address. */
  readonly listenAddress?: string
  readonly dht?: DhtTuning
}

export interface MakeConfigOptions {
  /** Partitions storage; keep it stable for an installation. No slashes. */
  readonly programName: string
  /** Distinguishes nodes that share a process or a program name. No slashes. */
  readonly namespace?: string
  /** Where table store, protected store and block store live (one subdirectory each). */
  readonly storageDir: string
  readonly network: "public" | PrivateNetwork
  /** A fixed node identity (typed `VLD0:...` keys); otherwise generated on first start. */
  readonly keys?: { readonly publicKey: string; readonly secretKey: string }
  /**
   * How many Veilid nodes run in this process. Each node's two DHT subkey caches default
   * to RAM/32; with several nodes they are divided between them.
   */
  readonly nodesInProcess?: number
  /** Encrypts the table store's device key; empty by default (protected store is a plain directory). */
  readonly deviceEncryptionKeyPassword?: string
  /** Wipe table store, protected store and block store at startup (tests). */
  readonly wipeStorage?: boolean
}

const minCacheMb = 16

/** Deep-patches veilid-core's default config with the project's choices. Pure. */
export const patchConfig = (defaults: VeilidConfig, options: MakeConfigOptions): VeilidConfig => {
  const nodes = Math.max(1, Math.floor(options.nodesInProcess ?? 1))
  const cache = (mb: number) => (nodes === 1 ? mb : Math.max(minCacheMb, Math.floor(mb / nodes)))
  const wipe = options.wipeStorage ?? false
  const net = defaults.network
  const priv = options.network === "public" ? undefined : options.network

  const listen = (address: string) =>
    priv?.listenAddress === undefined ? address : priv.listenAddress

  const network: VeilidConfig["network"] = {
    ...net,
    network_key_password: priv ? priv.networkKeyPassword : net.network_key_password,
    routing_table: {
      ...net.routing_table,
      ...(options.keys
        ? { public_keys: [options.keys.publicKey], secret_keys: [options.keys.secretKey] }
        : {}),
      ...(priv
        ? { bootstrap: [...priv.bootstrap], bootstrap_keys: [...(priv.bootstrapKeys ?? [])] }
        : {}),
    },
    dht: {
      ...net.dht,
      local_max_subkey_cache_memory_mb: cache(net.dht.local_max_subkey_cache_memory_mb),
      remote_max_subkey_cache_memory_mb: cache(net.dht.remote_max_subkey_cache_memory_mb),
    },
    // On a private network addresses are fixed and there is no router to ask.
    upnp: priv ? false : net.upnp,
    detect_address_changes: priv ? false : net.detect_address_changes,
    protocol: {
      ...net.protocol,
      udp: { ...net.protocol.udp, listen_address: listen(net.protocol.udp.listen_address) },
      tcp: { ...net.protocol.tcp, listen_address: listen(net.protocol.tcp.listen_address) },
      ws: { ...net.protocol.ws, listen_address: listen(net.protocol.ws.listen_address) },
    },
    privacy: {
      ...net.privacy,
      require_inbound_relay: priv ? false : net.privacy.require_inbound_relay,
    },
  }

  const dht = priv?.dht
  const internal = dht === undefined ? {} : { internal: withDhtTuning(defaults.internal, dht) }

  return {
    ...defaults,
    program_name: options.programName,
    namespace: options.namespace ?? "",
    // Every node relays, signals and routes: the private network has no one else to do it.
    capabilities: priv ? { ...defaults.capabilities, disable: [] } : defaults.capabilities,
    protected_store: {
      ...defaults.protected_store,
      // A server has no OS keyring: the protected store is a directory beside the others.
      always_use_insecure_storage: true,
      allow_insecure_fallback: true,
      directory: join(options.storageDir, "protected_store"),
      delete: wipe,
      device_encryption_key_password: options.deviceEncryptionKeyPassword ?? "",
    },
    table_store: {
      ...defaults.table_store,
      directory: join(options.storageDir, "table_store"),
      delete: wipe,
    },
    block_store: {
      ...defaults.block_store,
      directory: join(options.storageDir, "block_store"),
      delete: wipe,
    },
    network,
    ...internal,
  }
}

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (typeof v === "object" && v !== null ? (v as Json) : {})

const withDhtTuning = (internal: unknown, tuning: DhtTuning): Json => {
  const base = obj(internal)
  const network = obj(base.network)
  const dht = obj(network.dht)
  const set = (key: string, value: number | undefined) =>
    value === undefined ? {} : { [key]: value }
  return {
    ...base,
    network: {
      ...network,
      dht: {
        ...dht,
        ...set("get_value_count", tuning.getValueCount),
        ...set("set_value_count", tuning.setValueCount),
        ...set("consensus_width", tuning.consensusWidth),
        ...set("min_peer_count", tuning.minPeerCount),
      },
    },
  }
}

const requiredPaths: ReadonlyArray<
  readonly [path: string, type: "string" | "number" | "boolean" | "object"]
> = [
  ["program_name", "string"],
  ["namespace", "string"],
  ["capabilities.disable", "object"],
  ["protected_store.directory", "string"],
  ["table_store.directory", "string"],
  ["block_store.directory", "string"],
  ["network.routing_table.bootstrap", "object"],
  ["network.rpc.default_route_hop_count", "number"],
  ["network.dht.local_max_subkey_cache_memory_mb", "number"],
  ["network.protocol.udp.listen_address", "string"],
  ["network.privacy.require_inbound_relay", "boolean"],
]

/**
 * Accepts a config built elsewhere (e.g. the testnet's `nodeConfig(name)`) after checking
 * that it has the shape of veilid-core 0.5.8's config.
 */
export const decodeConfig = (json: unknown): Effect.Effect<VeilidConfig, VeilidError> =>
  Effect.suspend(() => {
    for (const [path, type] of requiredPaths) {
      let node: unknown = json
      for (const key of path.split(".")) node = obj(node)[key]
      if (typeof node !== type || node === null) {
        return Effect.fail(
          bindingError(`not a veilid-core 0.5.8 config: '${path}' is not a ${type}`),
        )
      }
    }
    return Effect.succeed(json as VeilidConfig)
  })

/** veilid-core's default config, parsed. */
export const defaultConfig: Effect.Effect<VeilidConfig, VeilidError> = Effect.flatMap(
  loadNative,
  (native) =>
    Effect.try({
      try: () => JSON.parse(native.defaultConfig()) as VeilidConfig,
      catch: (cause) => bindingError("veilid default config is not JSON", cause),
    }),
)

/** veilid-core's defaults, patched for this project (see `MakeConfigOptions`). */
export const makeConfig = Effect.fn("Veilid.makeConfig")(function* (options: MakeConfigOptions) {
  const defaults = yield* defaultConfig
  return patchConfig(defaults, options)
})
