import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { decodeConfig, defaultConfig, makeConfig, patchConfig } from "../src/index.ts"

const privateNet = {
  bootstrap: ["bootstrap.testnet"],
  networkKeyPassword: "testnet-secret",
  listenAddress: "1.2.3.4:5150",
} as const

describe("makeConfig", () => {
  it.effect("sets identity and storage directories on top of veilid-core's defaults", () =>
    Effect.gen(function* () {
      const config = yield* makeConfig({
        programName: "save-dweb",
        namespace: "n1",
        storageDir: "/data/v",
        network: "public",
      })
      expect(config.program_name).toBe("save-dweb")
      expect(config.namespace).toBe("n1")
      expect(config.table_store.directory).toBe("/data/v/table_store")
      expect(config.protected_store.directory).toBe("/data/v/protected_store")
      expect(config.block_store.directory).toBe("/data/v/block_store")
      expect(config.protected_store.always_use_insecure_storage).toBe(true)
    }),
  )

  it.effect("the public network keeps veilid-core's bootstrap and privacy defaults", () =>
    Effect.gen(function* () {
      const defaults = yield* defaultConfig
      const config = patchConfig(defaults, {
        programName: "p",
        storageDir: "/d",
        network: "public",
      })
      expect(config.network.routing_table.bootstrap).toEqual(
        defaults.network.routing_table.bootstrap,
      )
      expect(config.network.routing_table.bootstrap_keys).toEqual(
        defaults.network.routing_table.bootstrap_keys,
      )
      expect(config.network.network_key_password).toBe(defaults.network.network_key_password)
      expect(config.network.upnp).toBe(defaults.network.upnp)
      expect(config.network.protocol).toEqual(defaults.network.protocol)
    }),
  )

  it.effect("a private network gets its own key, bootstrap and fixed address", () =>
    Effect.gen(function* () {
      const defaults = yield* defaultConfig
      const config = patchConfig(defaults, {
        programName: "p",
        storageDir: "/d",
        network: privateNet,
      })
      expect(config.network.network_key_password).toBe("testnet-secret")
      expect(config.network.routing_table.bootstrap).toEqual(["bootstrap.testnet"])
      expect(config.network.routing_table.bootstrap_keys).toEqual([])
      expect(config.network.upnp).toBe(false)
      expect(config.network.detect_address_changes).toBe(false)
      expect(config.network.privacy.require_inbound_relay).toBe(false)
      expect(config.capabilities.disable).toEqual([])
      expect(config.network.protocol.udp.listen_address).toBe("1.2.3.4:5150")
      expect(config.network.protocol.tcp.listen_address).toBe("1.2.3.4:5150")
      expect(config.network.protocol.ws.listen_address).toBe("1.2.3.4:5150")
    }),
  )

  it.effect("DHT tuning lands in internal.network.dht and keeps the other internal defaults", () =>
    Effect.gen(function* () {
      const defaults = yield* defaultConfig
      const config = patchConfig(defaults, {
        programName: "p",
        storageDir: "/d",
        network: {
          ...privateNet,
          dht: { setValueCount: 3, getValueCount: 2, consensusWidth: 5, minPeerCount: 4 },
        },
      })
      const dht = (config.internal as { network: { dht: Record<string, number> } }).network.dht
      const defaultDht = (defaults.internal as { network: { dht: Record<string, number> } }).network
        .dht
      expect(dht).toMatchObject({
        set_value_count: 3,
        get_value_count: 2,
        consensus_width: 5,
        min_peer_count: 4,
      })
      expect(dht.get_value_timeout_ms).toBe(defaultDht.get_value_timeout_ms)
    }),
  )

  it.effect("several nodes in one process divide the subkey caches", () =>
    Effect.gen(function* () {
      const defaults = yield* defaultConfig
      const base = {
        ...defaults,
        network: {
          ...defaults.network,
          dht: {
            ...defaults.network.dht,
            local_max_subkey_cache_memory_mb: 800,
            remote_max_subkey_cache_memory_mb: 800,
          },
        },
      }
      const one = patchConfig(base, { programName: "p", storageDir: "/d", network: "public" })
      const eight = patchConfig(base, {
        programName: "p",
        storageDir: "/d",
        network: "public",
        nodesInProcess: 8,
      })
      const many = patchConfig(base, {
        programName: "p",
        storageDir: "/d",
        network: "public",
        nodesInProcess: 1000,
      })
      expect(one.network.dht.local_max_subkey_cache_memory_mb).toBe(800)
      expect(eight.network.dht.local_max_subkey_cache_memory_mb).toBe(100)
      expect(eight.network.dht.remote_max_subkey_cache_memory_mb).toBe(100)
      expect(many.network.dht.local_max_subkey_cache_memory_mb).toBe(16)
    }),
  )

  it.effect("fixed keys become the node identity", () =>
    Effect.gen(function* () {
      const config = yield* makeConfig({
        programName: "p",
        storageDir: "/d",
        network: "public",
        keys: { publicKey: "VLD0:pub", secretKey: "VLD0:sec" },
      })
      expect(config.network.routing_table.public_keys).toEqual(["VLD0:pub"])
      expect(config.network.routing_table.secret_keys).toEqual(["VLD0:sec"])
    }),
  )
})

describe("decodeConfig", () => {
  it.effect("accepts a full config built elsewhere and refuses other shapes", () =>
    Effect.gen(function* () {
      const defaults = yield* defaultConfig
      const json: unknown = JSON.parse(JSON.stringify(defaults))
      expect(yield* decodeConfig(json)).toEqual(defaults)
      const broken = yield* Effect.flip(
        decodeConfig({ ...defaults, network: { ...defaults.network, rpc: {} } }),
      )
      expect(broken.message).toContain("network.rpc.default_route_hop_count")
      expect((yield* Effect.flip(decodeConfig(null)))._tag).toBe("VeilidInternal")
    }),
  )
})
