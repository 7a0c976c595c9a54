import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Scope } from "effect"
import * as native from "../index.js"
import {
  MAX_APP_MESSAGE_BYTES,
  MAX_SUBKEY_BYTES,
  makeConfig,
  makeVeilid,
  Veilid,
  VeilidAlreadyInitialized,
  VeilidNotInitialized,
} from "../src/index.ts"

// A node that never attaches: startup, table store, crypto and shutdown need no peers.
const dirs: Array<string> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "save-dweb-veilid-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const detachedConfig = (namespace: string) =>
  makeConfig({
    programName: "save-dweb-test",
    namespace,
    storageDir: tempDir(),
    network: "public",
    nodesInProcess: 2,
  })

const enc = (s: string) => new TextEncoder().encode(s)

describe("native module", () => {
  it("reports veilid-core's version and default config", () => {
    expect(native.veilidVersion()).toBe("0.5.8")
    const config = JSON.parse(native.defaultConfig())
    expect(config.program_name).toBe("")
    expect(config.internal.network.dht.set_value_count).toBeTypeOf("number")
  })

  it("rejects a request that is not Request JSON, and shutdown is idempotent", async () => {
    const config = await Effect.runPromise(detachedConfig("native-bad"))
    const updates: Array<string> = []
    const node = await native.VeilidNode.start(JSON.stringify(config), (u) => updates.push(u))
    await expect(node.request("{nope")).rejects.toThrow(/invalid veilid request/)
    await Promise.all([node.shutdown(), node.shutdown()])
    await node.shutdown()
    const after = JSON.parse(await node.request('{"id":1,"op":"GetState"}'))
    expect(after.error).toEqual({ kind: "NotInitialized" })
    expect(updates.map((u) => JSON.parse(u).kind)).toContain("Shutdown")
  })

  it("lets the process exit once the node has shut down", async () => {
    const config = await Effect.runPromise(detachedConfig("exit"))
    const loader = new URL("../index.js", import.meta.url).href
    const script = `
      const { VeilidNode } = await import(${JSON.stringify(loader)})
      const node = await VeilidNode.start(process.argv[1], () => {})
      await node.shutdown()
      console.log("stopped")`
    const child = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", script, JSON.stringify(config)],
      {
        encoding: "utf8",
        timeout: 20_000,
      },
    )
    expect(child.stderr).toBe("")
    expect(child.stdout.trim()).toBe("stopped")
    expect(child.status).toBe(0)
  })
})

describe("Veilid on a detached node", () => {
  it.live("stores and loads table store values", () =>
    Effect.gen(function* () {
      const config = yield* detachedConfig("table")
      const veilid = yield* makeVeilid(config, { attach: false })
      const db = yield* veilid.openTableDb("groups", 2)
      yield* db.store(0, enc("a"), enc("value a"))
      yield* db.store(1, enc("b"), new Uint8Array([0, 255, 1]))
      expect(yield* db.load(0, enc("a"))).toEqual(Option.some(enc("value a")))
      expect(yield* db.load(1, enc("b"))).toEqual(Option.some(new Uint8Array([0, 255, 1])))
      expect(yield* db.load(0, enc("missing"))).toEqual(Option.none())
      expect(yield* db.keys(0)).toEqual([enc("a")])
      expect(yield* db.delete(0, enc("a"))).toEqual(Option.some(enc("value a")))
      expect(yield* db.load(0, enc("a"))).toEqual(Option.none())
      expect(yield* veilid.deleteTableDb("never-opened")).toBe(false)
    }),
  )

  it.live("generates key pairs and reports a detached attachment", () =>
    Effect.gen(function* () {
      const veilid = yield* makeVeilid(yield* detachedConfig("keys"), { attach: false })
      const keyPair = yield* veilid.generateKeyPair()
      expect(keyPair).toMatch(/^VLD0:[A-Za-z0-9_-]{43}:[A-Za-z0-9_-]{43}$/)
      const attachment = yield* veilid.attachment
      expect(attachment).toEqual({
        state: "Detached",
        publicInternetReady: false,
        localNetworkReady: false,
      })
      // Node ids are published once the network starts, i.e. after attach.
      expect(yield* veilid.nodeIds).toEqual([])
    }),
  )

  it.live("refuses app messages and subkey values over Veilid's 32,768 bytes before sending", () =>
    Effect.gen(function* () {
      const veilid = yield* makeVeilid(yield* detachedConfig("limits"), { attach: false })
      const tooLong = new Uint8Array(MAX_APP_MESSAGE_BYTES + 1)
      const route = "VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
      const refusals = [
        yield* Effect.flip(veilid.appCall(route, tooLong)),
        yield* Effect.flip(veilid.appMessage(route, tooLong)),
        yield* Effect.flip(veilid.appCallReply("1", tooLong)),
        yield* Effect.flip(veilid.dhtSet(route, 0, new Uint8Array(MAX_SUBKEY_BYTES + 1))),
      ]
      expect(refusals.map((e) => [e._tag, "argument" in e ? e.argument : ""])).toEqual([
        ["VeilidInvalidArgument", "message"],
        ["VeilidInvalidArgument", "message"],
        ["VeilidInvalidArgument", "message"],
        ["VeilidInvalidArgument", "data"],
      ])
      expect(refusals[0]?.message).toContain("32769 bytes, at most 32768")
    }),
  )

  it.live("keeps table store data across a restart of the same node", () =>
    Effect.gen(function* () {
      const config = yield* detachedConfig("restart")
      const write = Effect.scoped(
        Effect.gen(function* () {
          const veilid = yield* makeVeilid(config, { attach: false })
          const db = yield* veilid.openTableDb("t", 1)
          yield* db.store(0, enc("k"), enc("persisted"))
        }),
      )
      const read = Effect.scoped(
        Effect.gen(function* () {
          const veilid = yield* makeVeilid(config, { attach: false })
          const db = yield* veilid.openTableDb("t", 1)
          return yield* db.load(0, enc("k"))
        }),
      )
      yield* write
      expect(yield* read).toEqual(Option.some(enc("persisted")))
    }),
  )

  it.live("runs two nodes in one process and refuses a duplicate namespace", () =>
    Effect.gen(function* () {
      const a = yield* makeVeilid(yield* detachedConfig("two-a"), { attach: false })
      const b = yield* makeVeilid(yield* detachedConfig("two-b"), { attach: false })
      const [dbA, dbB] = [yield* a.openTableDb("same", 1), yield* b.openTableDb("same", 1)]
      yield* dbA.store(0, enc("k"), enc("from a"))
      yield* dbB.store(0, enc("k"), enc("from b"))
      expect(yield* dbA.load(0, enc("k"))).toEqual(Option.some(enc("from a")))
      expect(yield* dbB.load(0, enc("k"))).toEqual(Option.some(enc("from b")))
      const duplicate = yield* Effect.exit(makeVeilid(a.config, { attach: false }))
      expect(duplicate).toEqual(
        Exit.fail(new VeilidAlreadyInitialized({ message: "Already initialized" })),
      )
    }),
  )

  it.live("closing the layer shuts the node down", () =>
    Effect.gen(function* () {
      const config = yield* detachedConfig("layer")
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Veilid.layer(config, { attach: false }), scope)
      const veilid = yield* Effect.provide(
        Effect.gen(function* () {
          return yield* Veilid
        }),
        context,
      )
      yield* veilid.generateKeyPair()
      yield* Scope.close(scope, Exit.void)
      const after = yield* Effect.flip(veilid.attachment)
      expect(after).toBeInstanceOf(VeilidNotInitialized)
    }),
  )
})
