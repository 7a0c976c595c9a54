import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  ConfigError,
  DEFAULT_PORT,
  parseListen,
  parseNetwork,
  resolveConfig,
} from "../src/config.ts"

const dir = () => mkdtempSync(join(tmpdir(), "sdw-daemon-config-"))
const configOf = (argv: Array<string>, env: NodeJS.ProcessEnv = {}) => {
  const r = Effect.runSync(resolveConfig(argv, env))
  if (r.help) throw new Error("unexpected help")
  return r.config
}
/** The message of the `ConfigError` the effect fails with (the test fails if it succeeds). */
const messageOf = (effect: Effect.Effect<unknown, ConfigError>) => {
  const error = Effect.runSync(Effect.flip(effect))
  expect(error).toBeInstanceOf(ConfigError)
  return error.message
}

describe("daemon configuration", () => {
  it("defaults: loopback on the default port, public network, info logs, data dir under XDG", () => {
    const home = dir()
    const c = configOf([], { XDG_DATA_HOME: home })
    expect(c.dataDir).toBe(join(home, "save-dweb"))
    expect(c.listen).toEqual({ _tag: "Tcp", host: "127.0.0.1", port: DEFAULT_PORT })
    expect(c.network).toEqual({ _tag: "Public" })
    expect(c.logLevel).toBe("info")
    expect(c.syncIntervalSeconds).toBe(10)
    expect(c.attachTimeoutSeconds).toBe(300)
    expect(c.configFile).toBeUndefined()
    expect(c.saveAppApi).toBeUndefined()
  })

  it("the Save app's API is off unless asked for, by flag, environment or config file", () => {
    const d = dir()
    writeFileSync(join(d, "config.json"), JSON.stringify({ saveAppApi: "127.0.0.1:8080" }))
    expect(configOf(["--data-dir", d]).saveAppApi).toEqual({
      _tag: "Tcp",
      host: "127.0.0.1",
      port: 8080,
    })
    expect(
      configOf(["--data-dir", d], { SAVE_DWEB_SAVE_APP_API: "unix:/tmp/app.sock" }).saveAppApi,
    ).toEqual({ _tag: "Socket", path: "/tmp/app.sock" })
    // Empty turns off what the config file asks for.
    expect(configOf(["--data-dir", d, "--save-app-api", ""]).saveAppApi).toBeUndefined()
    expect(messageOf(resolveConfig(["--save-app-api", "8080"], {}))).toMatch(
      /--save-app-api "8080": expected HOST:PORT or unix:PATH/,
    )
    // No token: never on a network interface.
    expect(messageOf(resolveConfig(["--save-app-api", "0.0.0.0:8080"], {}))).toMatch(
      /no token, so it listens on 127.0.0.1:PORT, \[::1\]:PORT or unix:PATH only/,
    )
    expect(configOf(["--data-dir", d, "--save-app-api", "[::1]:8080"]).saveAppApi).toEqual({
      _tag: "Tcp",
      host: "::1",
      port: 8080,
    })
  })

  it("flags win over the environment, which wins over the config file", () => {
    const d = dir()
    writeFileSync(
      join(d, "config.json"),
      JSON.stringify({
        listen: "127.0.0.1:9001",
        logLevel: "warn",
        network: "testnet:x",
        syncIntervalSeconds: 5,
      }),
    )
    const c = configOf(["--data-dir", d, "--listen", "127.0.0.1:9003"], {
      SAVE_DWEB_LISTEN: "127.0.0.1:9002",
      SAVE_DWEB_LOG_LEVEL: "debug",
    })
    expect(c.listen).toEqual({ _tag: "Tcp", host: "127.0.0.1", port: 9003 })
    expect(c.logLevel).toBe("debug")
    expect(c.network).toEqual({ _tag: "Testnet", node: "x" })
    expect(c.syncIntervalSeconds).toBe(5)
    expect(c.configFile).toBe(join(d, "config.json"))
  })

  it("a passphrase file: none by default; from flag, environment or config file, made absolute", () => {
    const d = dir()
    expect(configOf(["--data-dir", d]).passphraseFile).toBeUndefined()
    writeFileSync(join(d, "config.json"), JSON.stringify({ passphraseFile: "/etc/a" }))
    expect(configOf(["--data-dir", d]).passphraseFile).toBe("/etc/a")
    expect(
      configOf(["--data-dir", d], { SAVE_DWEB_PASSPHRASE_FILE: "/etc/b" }).passphraseFile,
    ).toBe("/etc/b")
    expect(configOf(["--data-dir", d, "--passphrase-file", "rel"]).passphraseFile).toBe(
      join(process.cwd(), "rel"),
    )
    expect(messageOf(resolveConfig(["--data-dir", d, "--passphrase-file", ""], {}))).toMatch(
      /passphrase file/,
    )
  })

  it("an explicit config file must exist and hold only known keys", () => {
    const d = dir()
    expect(messageOf(resolveConfig(["--config", join(d, "nope.json")], {}))).toMatch(/nope\.json/)
    writeFileSync(join(d, "c.json"), JSON.stringify({ lisen: "x" }))
    expect(messageOf(resolveConfig(["--config", join(d, "c.json")], {}))).toMatch(
      /unknown key "lisen"/,
    )
    writeFileSync(join(d, "bad.json"), "{")
    expect(messageOf(resolveConfig(["--config", join(d, "bad.json")], {}))).toMatch(/not JSON/)
  })

  it("listen addresses: host:port, [v6]:port, unix sockets; bad ones are explained", () => {
    expect(Effect.runSync(parseListen("[::1]:80"))).toEqual({ _tag: "Tcp", host: "::1", port: 80 })
    expect(Effect.runSync(parseListen("unix:/tmp/a.sock"))).toEqual({
      _tag: "Socket",
      path: "/tmp/a.sock",
    })
    expect(messageOf(parseListen("localhost"))).toMatch(/HOST:PORT/)
    expect(messageOf(parseListen("a:70000"))).toMatch(/over 65535/)
    expect(messageOf(parseListen("unix:"))).toMatch(/socket path/)
  })

  it("networks: public, testnet with a node name, a veilid config file", () => {
    expect(Effect.runSync(parseNetwork("testnet"))).toEqual({ _tag: "Testnet", node: "daemon" })
    expect(Effect.runSync(parseNetwork("config:/etc/v.json"))).toEqual({
      _tag: "ConfigFile",
      path: "/etc/v.json",
    })
    expect(messageOf(parseNetwork("mainnet"))).toMatch(/expected public/)
    expect(messageOf(parseNetwork("testnet:Bad Name"))).toMatch(/node name/)
  })

  it("rejects unknown flags, bad levels and bad numbers with a message", () => {
    expect(messageOf(resolveConfig(["--port", "1"], {}))).toMatch(/port/)
    expect(messageOf(resolveConfig(["--log-level", "loud"], {}))).toMatch(/log level "loud"/)
    expect(messageOf(resolveConfig(["--max-upload", "0"], {}))).toMatch(/integer ≥ 1/)
    expect(messageOf(resolveConfig(["--sync-interval=-1"], {}))).toMatch(/integer ≥ 0/)
  })

  it("--help asks for the usage text", () => {
    expect(Effect.runSync(resolveConfig(["--help"], {}))).toEqual({ help: true })
  })
})
