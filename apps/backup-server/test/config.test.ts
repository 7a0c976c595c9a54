// Settings from flags, environment and config file, and the state codecs.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { unlockStorage } from "@save-dweb/backend"
import type { BlobHash } from "@save-dweb/blob-store"
import { Effect, Option, Redacted, Result } from "effect"
import {
  decodeIdentity,
  encodeIdentity,
  makeRealBackupServer,
  memoryServerState,
  type ProcessConfig,
  resolveConfig,
} from "../src/index.ts"

const resolved = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) =>
  resolveConfig(argv, { HOME: "/home/test", ...env })

const configOf = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): ProcessConfig => {
  const config = Effect.runSync(resolved(argv, env))
  if (config.help) throw new Error("help")
  return config.config
}

/** The `ConfigError`'s message (a failure, never a throw). */
const errorOf = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): string => {
  const result = Effect.runSync(Effect.result(resolved(argv, env)))
  if (Result.isSuccess(result)) throw new Error("expected a ConfigError")
  assert.strictEqual(result.failure._tag, "ConfigError")
  return result.failure.message
}

const withDir = <A>(f: (dir: string) => A): A => {
  const dir = mkdtempSync(join(tmpdir(), "backup-config-"))
  try {
    return f(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("configuration", () => {
  it("defaults: public network, info, the XDG data dir", () => {
    const config = configOf([], { XDG_DATA_HOME: "/nonexistent-xdg" })
    assert.strictEqual(config.dataDir, "/nonexistent-xdg/save-dweb-backup-server")
    assert.deepStrictEqual(config.network, { _tag: "Public" })
    assert.strictEqual(config.logLevel, "info")
    assert.strictEqual(config.maxGroups, 64)
    assert.strictEqual(config.pollSeconds, 30)
    assert.strictEqual(config.memoryLogSeconds, 300)
    assert.strictEqual(config.configFile, undefined)
  })

  it("flags win over the environment, which wins over the file; file paths are relative to it", () =>
    withDir((dir) => {
      const file = join(dir, "server.json")
      writeFileSync(
        file,
        JSON.stringify({
          dataDir: "data",
          network: "config:veilid.json",
          name: "From file",
          logLevel: "warn",
          maxGroups: 5,
          irohIpv4: "0.0.0.0:4919",
        }),
      )
      const fromFile = configOf(["--config", file])
      assert.strictEqual(fromFile.dataDir, join(dir, "data"))
      assert.deepStrictEqual(fromFile.network, {
        _tag: "ConfigFile",
        path: join(dir, "veilid.json"),
      })
      assert.strictEqual(fromFile.name, "From file")
      assert.strictEqual(fromFile.logLevel, "warn")
      assert.strictEqual(fromFile.maxGroups, 5)
      assert.strictEqual(fromFile.irohIpv4, "0.0.0.0:4919")
      assert.strictEqual(fromFile.configFile, file)

      const env = { SAVE_DWEB_BACKUP_LOG_LEVEL: "debug", SAVE_DWEB_BACKUP_MAX_GROUPS: "7" }
      const fromEnv = configOf(["--config", file], env)
      assert.strictEqual(fromEnv.logLevel, "debug")
      assert.strictEqual(fromEnv.maxGroups, 7)
      const fromFlags = configOf(["--config", file, "--log-level", "error", "--name", "Flag"], env)
      assert.strictEqual(fromFlags.logLevel, "error")
      assert.strictEqual(fromFlags.name, "Flag")
      assert.deepStrictEqual(configOf(["--network", "testnet:box-1"]).network, {
        _tag: "Testnet",
        node: "box-1",
      })
    }))

  it("a passphrase file: none by default; relative to the config file, or to the working dir from a flag or the environment", () =>
    withDir((dir) => {
      assert.strictEqual(configOf(["--data-dir", dir]).passphraseFile, undefined)
      writeFileSync(join(dir, "config.json"), JSON.stringify({ passphraseFile: "pass" }))
      assert.strictEqual(configOf(["--data-dir", dir]).passphraseFile, join(dir, "pass"))
      const fromEnv = configOf(["--data-dir", dir], { SAVE_DWEB_BACKUP_PASSPHRASE_FILE: "/run/p" })
      assert.strictEqual(fromEnv.passphraseFile, "/run/p")
      const fromFlag = configOf(["--data-dir", dir, "--passphrase-file", "rel"])
      assert.strictEqual(fromFlag.passphraseFile, join(process.cwd(), "rel"))
      assert.match(errorOf(["--data-dir", dir, "--passphrase-file", ""]), /passphrase file/)
    }))

  it("the data dir's config.json is read when present", () =>
    withDir((dir) => {
      writeFileSync(join(dir, "config.json"), JSON.stringify({ name: "Here" }))
      const config = configOf(["--data-dir", dir])
      assert.strictEqual(config.name, "Here")
      assert.strictEqual(config.dataDir, dir)
    }))

  it("mistakes are ConfigErrors that say what is wrong", () =>
    withDir((dir) => {
      const file = join(dir, "bad.json")
      writeFileSync(file, JSON.stringify({ nope: 1 }))
      assert.include(errorOf(["--config", file]), 'unknown key "nope"')
      writeFileSync(file, "{")
      assert.include(errorOf(["--config", file]), "not JSON")
      assert.include(errorOf(["--config", join(dir, "missing.json")]), "missing.json")
      assert.include(errorOf(["--log-level", "loud"]), "expected one of")
      assert.include(errorOf(["--network", "mainnet"]), "expected public, testnet")
      assert.include(errorOf(["--max-groups", "0"]), "max groups")
      assert.include(errorOf(["--name", "a\u0007b"]), "no control characters")
      assert.include(errorOf(["--bogus"]), "bogus")
    }))

  it("--help asks for the usage", () => {
    assert.deepStrictEqual(Effect.runSync(resolveConfig(["--help"], {})), { help: true })
  })
})

describe("stored state", () => {
  const identity = {
    record: "VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    owner:
      "VLD0:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC",
    access: new Uint8Array(32).fill(5),
  }
  const hash = "a".repeat(64) as BlobHash

  it.effect("identity round-trips; damaged bytes are InvalidServerState", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* decodeIdentity(encodeIdentity(identity)), identity)
      for (const bytes of [
        new Uint8Array([0xff, 0xfe]),
        new TextEncoder().encode('{"v":2}'),
        encodeIdentity(identity).subarray(0, 20),
      ]) {
        const result = yield* Effect.result(decodeIdentity(bytes))
        assert.isTrue(Result.isFailure(result))
        if (Result.isFailure(result)) {
          assert.strictEqual(result.failure._tag, "InvalidServerState")
          // The secret never shows in the message.
          assert.notInclude(result.failure.message, "BQUF")
        }
      }
    }),
  )

  it.effect("saved roots load back; an empty set forgets the group", () =>
    Effect.gen(function* () {
      const state = memoryServerState()
      assert.isTrue(Option.isNone(yield* state.identity))
      yield* state.saveIdentity(identity)
      assert.deepStrictEqual(Option.getOrThrow(yield* state.identity), identity)
      yield* state.roots.save("g", { roots: new Map([["r", hash]]), pins: new Map() })
      assert.deepStrictEqual([...(yield* state.roots.load("g")).roots], [["r", hash]])
      assert.deepStrictEqual(yield* state.roots.groups, ["g"])
      yield* state.roots.save("g", { roots: new Map(), pins: new Map() })
      assert.deepStrictEqual(yield* state.roots.groups, [])
      assert.strictEqual((yield* state.roots.load("g")).roots.size, 0)
    }),
  )
})

describe("a data dir locked with a passphrase", () => {
  it.effect("does not start without it (before Veilid)", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "backup-locked-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true })))
      yield* unlockStorage(dir, Redacted.make(new TextEncoder().encode("correct horse")))
      const error = yield* Effect.flip(makeRealBackupServer({ dataDir: dir }))
      assert.strictEqual(error._tag, "PassphraseRequired")
    }),
  )
})
