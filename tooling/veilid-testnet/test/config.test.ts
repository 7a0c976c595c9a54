import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import {
  ConfigShapeError,
  INTERNAL_DEFAULTS_0_5_8,
  NODE_UNDER_TEST_DISABLED_CAPABILITIES,
  SMALL_NETWORK_DHT,
  testnetNodeConfig,
  type VeilidConfigJson,
} from "../src/config.ts"
import { generateNodeKeyPair } from "../src/keys.ts"

// veilid-core 0.5.8's default config as the binding's defaultConfig() returns it.
const base: VeilidConfigJson = JSON.parse(
  readFileSync(new URL("./fixtures/default-config-0.5.8.json", import.meta.url), "utf8"),
)
const keyPair = generateNodeKeyPair()
const options = {
  listenHost: "n3.abc.sdwtn.test",
  keyPair,
  bootstrap: ["abc.sdwtn.test"],
  networkKeyPassword: "secret",
  storageDir: "/data/n3",
  namespace: "abc-n3",
}
// biome-ignore lint/suspicious/noExplicitAny: reading into untyped JSON
const patched = testnetNodeConfig(base, options) as any

describe("testnet node config", () => {
  it("keeps the node on the private network: password, our bootstrap, unsigned records", () => {
    expect(patched.network.network_key_password).toBe("secret")
    expect(patched.network.routing_table.bootstrap).toEqual(["abc.sdwtn.test"])
    expect(patched.network.routing_table.bootstrap_keys).toEqual([])
    expect(patched.network.routing_table.bootstrap_records).toEqual([])
  })

  it("pins every protocol to the node's own name and fixes its identity", () => {
    for (const protocol of ["udp", "tcp", "ws"]) {
      expect(patched.network.protocol[protocol].listen_address).toBe("n3.abc.sdwtn.test:5150")
    }
    expect(patched.network.routing_table.public_keys).toEqual([keyPair.publicKey])
    expect(patched.network.routing_table.secret_keys).toEqual([keyPair.secretKey])
  })

  it("turns off what a namespace without a way out cannot use", () => {
    expect(patched.network.upnp).toBe(false)
    expect(patched.network.detect_address_changes).toBe(false)
    expect(patched.network.privacy.require_inbound_relay).toBe(false)
    expect(patched.capabilities.disable).toEqual([])
    // Both families: an IPv4-only node waits for IPv6 relays forever.
    expect(patched.network.address_types).toEqual([])
  })

  it("a node under test offers no relay, signal or dial-info validation; a bootstrap node does", () => {
    const underTest = testnetNodeConfig(base, {
      ...options,
      disableCapabilities: NODE_UNDER_TEST_DISABLED_CAPABILITIES,
      // biome-ignore lint/suspicious/noExplicitAny: reading into untyped JSON
    }) as any
    expect(underTest.capabilities.disable).toEqual(["RLAY", "SGNL", "DIAL"])
    expect(patched.capabilities.disable).toEqual([])
  })

  it("stores everything below the node's directory, in an insecure protected store", () => {
    expect(patched.protected_store).toMatchObject({
      always_use_insecure_storage: true,
      allow_insecure_fallback: true,
      directory: "/data/n3/protected_store",
    })
    expect(patched.table_store.directory).toBe("/data/n3/table_store")
    expect(patched.block_store.directory).toBe("/data/n3/block_store")
    expect([patched.program_name, patched.namespace]).toEqual(["save-dweb-testnet", "abc-n3"])
  })

  it("tunes the DHT for a small network within veilid's own rules", () => {
    const dht = patched.internal.network.dht
    expect(dht).toMatchObject(SMALL_NETWORK_DHT)
    expect(dht.consensus_width).toBeGreaterThanOrEqual(dht.set_value_count)
    expect(dht.get_value_count).toBeGreaterThan(dht.set_value_count / 2)
    expect(patched.network.dht.local_max_subkey_cache_memory_mb).toBeLessThanOrEqual(64)
  })

  it("leaves veilid's DHT counts alone when asked, and never changes its input", () => {
    const before = JSON.stringify(base)
    // biome-ignore lint/suspicious/noExplicitAny: reading into untyped JSON
    const untouched = testnetNodeConfig(base, { ...options, dht: "veilid-defaults" }) as any
    expect(untouched.internal).toEqual(INTERNAL_DEFAULTS_0_5_8)
    expect(JSON.stringify(base)).toBe(before)
  })

  it("fills `internal` from 0.5.8's defaults when the base has none", () => {
    // biome-ignore lint/suspicious/noExplicitAny: reading into untyped JSON
    const config = testnetNodeConfig({ ...base, internal: null }, options) as any
    expect(config.internal.network.rpc).toEqual(INTERNAL_DEFAULTS_0_5_8.network.rpc)
    expect(config.internal.network.dht.set_value_count).toBe(SMALL_NETWORK_DHT.set_value_count)
  })

  it("fails loudly when a key it patches is missing (another veilid version)", () => {
    const { upnp: _upnp, ...network } = base.network as Record<string, VeilidConfigJson[string]>
    expect(() => testnetNodeConfig({ ...base, network }, options)).toThrow(ConfigShapeError)
    expect(() => testnetNodeConfig({ ...base, network }, options)).toThrow(/network\.upnp/)
  })
})
