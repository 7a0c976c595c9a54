// The one place that turns veilid-core's default config into a testnet
// node's config. Config JSON fits one veilid-core version only (here 0.5.8),
// so it is always a patch of the binding's `defaultConfig()`, and every key
// patched must already exist there: a renamed key fails loudly here instead
// of being ignored by the node.
import { join } from "node:path"
import { Data } from "effect"
import { NODE_PORT } from "./addresses.ts"
import type { NodeKeyPair } from "./keys.ts"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | JsonObject
export interface JsonObject {
  readonly [key: string]: Json
}
/** A VeilidConfig as JSON (snake_case keys). */
export type VeilidConfigJson = JsonObject

export class ConfigShapeError extends Data.TaggedError("ConfigShapeError")<{
  readonly path: string
  readonly message: string
}> {}

/**
 * DHT counts for a network of a handful of nodes. Veilid's defaults (set 5,
 * get 3, consensus width 10, min peers 20) assume a large network. Rules
 * checked by veilid-core: consensus_width >= set_value_count and
 * get_value_count > set_value_count / 2. These only take effect because the
 * binding is built with veilid-core's `footgun-config` feature.
 */
export interface DhtTuning {
  readonly set_value_count: number
  readonly get_value_count: number
  readonly consensus_width: number
  readonly min_peer_count: number
}

export const SMALL_NETWORK_DHT: DhtTuning = {
  set_value_count: 3,
  get_value_count: 2,
  consensus_width: 5,
  min_peer_count: 4,
}

/**
 * veilid-core 0.5.8 `VeilidConfigInternal::default()`. The default config
 * carries `internal: null`, and a present `internal` must be complete.
 */
export const INTERNAL_DEFAULTS_0_5_8 = {
  network: {
    connection_initial_timeout_ms: 5000,
    single_send_timeout_ms: 2000,
    connection_inactivity_timeout_ms: 60000,
    max_connections_per_ip4: 32,
    max_connections_per_ip6_prefix: 32,
    max_connections_per_ip6_prefix_size: 56,
    max_connection_frequency_per_min: 128,
    client_allowlist_timeout_ms: 300000,
    reverse_connection_receipt_time_ms: 5000,
    hole_punch_receipt_time_ms: 5000,
    default_hole_punch_ttl: 3,
    cgnat_hole_punch_ttl: 8,
    restricted_nat_retries: 0,
    rpc: {
      concurrency: 0,
      queue_size: 1024,
      max_timestamp_behind_ms: 10000,
      max_timestamp_ahead_ms: 10000,
      timeout_ms: 5000,
      max_route_hop_count: 4,
    },
    dht: {
      max_find_node_count: 20,
      resolve_node_timeout_ms: 10000,
      resolve_node_count: 1,
      resolve_node_fanout: 5,
      get_value_timeout_ms: 10000,
      get_value_count: 3,
      get_value_fanout: 5,
      set_value_timeout_ms: 10000,
      set_value_count: 5,
      set_value_fanout: 6,
      consensus_width: 10,
      min_peer_count: 20,
      min_peer_refresh_time_ms: 60000,
      validate_dial_info_receipt_time_ms: 1000,
      max_watch_expiration_ms: 600000,
      max_watch_inspect_interval_ms: 300000,
      public_watch_limit: 32,
      member_watch_limit: 8,
      public_transaction_limit: 8,
      member_transaction_limit: 4,
    },
    protocol: { udp: { socket_pool_size: 0 } },
    routing_table: {
      save: {
        settle_ms: 5000,
        min_interval_ms: 10000,
        background_min_interval_ms: 5000,
        period_ms: 300000,
      },
    },
  },
} as const satisfies JsonObject

/** Several nodes share one process: cap each node's subkey caches (default RAM/32 each). */
const SUBKEY_CACHE_MEMORY_MB = 64

export interface TestnetNodeOptions {
  /**
   * Where the node binds UDP, TCP and WS: its host name in the testnet zone
   * (resolving to its IPv4 and IPv6 address; veilid binds every address a
   * listen address resolves to), or one address literal.
   */
  readonly listenHost: string
  readonly port?: number
  /** Fixed identity; without it the node makes its own on first start. */
  readonly keyPair?: NodeKeyPair
  /** DNS TXT bootstrap root names. */
  readonly bootstrap: ReadonlyArray<string>
  readonly networkKeyPassword: string
  /** Protected, table and block stores go below this directory. */
  readonly storageDir: string
  /** Veilid's storage namespace; unique per node in a process. */
  readonly namespace: string
  readonly programName?: string
  /** DHT counts; "veilid-defaults" leaves `internal` alone. */
  readonly dht?: DhtTuning | "veilid-defaults"
  /** Services this node does not offer others (veilid capability codes, e.g. "RLAY"). */
  readonly disableCapabilities?: ReadonlyArray<string>
}

/**
 * What a node under test (`nodeConfig(name)`) does not offer the network: relaying,
 * signalling and dial-info validation. Such nodes come and go within seconds; a bootstrap
 * node that had picked one as its inbound relay became unreachable when it stopped, and
 * under load the whole testnet could stay unable to build routes for minutes (found by
 * starting and stopping nodes in a row with the CPU busy; docs/veilid.md). Route hops
 * they still are: tunnels renew a route whose hop went away.
 */
export const NODE_UNDER_TEST_DISABLED_CAPABILITIES: ReadonlyArray<string> = ["RLAY", "SGNL", "DIAL"]

type Mutable = { [key: string]: Json }

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const set = (config: Mutable, path: ReadonlyArray<string>, value: Json): void => {
  let node: Mutable = config
  for (const [i, key] of path.entries()) {
    if (!(key in node)) {
      throw new ConfigShapeError({
        path: path.join("."),
        message: `veilid config has no key '${path.slice(0, i + 1).join(".")}': is the binding still veilid-core 0.5.8?`,
      })
    }
    if (i === path.length - 1) {
      node[key] = value
      return
    }
    const next = node[key]
    if (!isObject(next)) {
      throw new ConfigShapeError({
        path: path.join("."),
        message: `veilid config key '${path.slice(0, i + 1).join(".")}' is not an object`,
      })
    }
    node = next as Mutable
  }
}

/** A full node config for the testnet: `base` (veilid's defaults) patched. */
export const testnetNodeConfig = (
  base: VeilidConfigJson,
  options: TestnetNodeOptions,
): VeilidConfigJson => {
  const config = structuredClone(base) as Mutable
  const listen = `${options.listenHost}:${options.port ?? NODE_PORT}`
  const dht = options.dht ?? SMALL_NETWORK_DHT

  set(config, ["program_name"], options.programName ?? "save-dweb-testnet")
  set(config, ["namespace"], options.namespace)
  // Bootstrap nodes offer relay, signal, route and dial-info validation to each other;
  // nodes under test offer less (NODE_UNDER_TEST_DISABLED_CAPABILITIES).
  set(config, ["capabilities", "disable"], [...(options.disableCapabilities ?? [])])

  set(config, ["protected_store", "always_use_insecure_storage"], true)
  set(config, ["protected_store", "allow_insecure_fallback"], true)
  set(config, ["protected_store", "directory"], join(options.storageDir, "protected_store"))
  set(config, ["table_store", "directory"], join(options.storageDir, "table_store"))
  set(config, ["block_store", "directory"], join(options.storageDir, "block_store"))

  // A password derives a network key: these nodes cannot talk to any other network.
  set(config, ["network", "network_key_password"], options.networkKeyPassword)
  set(config, ["network", "routing_table", "bootstrap"], [...options.bootstrap])
  // No keys: v0 (unsigned) TXT records are accepted.
  set(config, ["network", "routing_table", "bootstrap_keys"], [])
  set(config, ["network", "routing_table", "bootstrap_records"], [])
  if (options.keyPair) {
    set(config, ["network", "routing_table", "public_keys"], [options.keyPair.publicKey])
    set(config, ["network", "routing_table", "secret_keys"], [options.keyPair.secretKey])
  }
  set(config, ["network", "upnp"], false)
  // Bound global addresses become direct PublicInternet dial info at once.
  set(config, ["network", "detect_address_changes"], false)
  set(config, ["network", "privacy", "require_inbound_relay"], false)
  for (const protocol of ["udp", "tcp", "ws"]) {
    set(config, ["network", "protocol", protocol, "listen_address"], listen)
  }
  set(config, ["network", "dht", "local_max_subkey_cache_memory_mb"], SUBKEY_CACHE_MEMORY_MB)
  set(config, ["network", "dht", "remote_max_subkey_cache_memory_mb"], SUBKEY_CACHE_MEMORY_MB)

  if (dht !== "veilid-defaults") {
    const internal = structuredClone(INTERNAL_DEFAULTS_0_5_8) as unknown as Mutable
    const current = config.internal
    set(config, ["internal"], isObject(current) ? current : internal)
    for (const [key, value] of Object.entries(dht)) {
      set(config, ["internal", "network", "dht", key], value)
    }
  }
  return config
}
