// Nodes of our own on a private testnet (tooling/veilid-testnet): `pnpm test` runs this
// file inside `veilid-testnet exec`. Every wait has a deadline; no fixed sleeps.
import { expect, layer } from "@effect/vitest"
import { DEFAULT_READY_TIMEOUT_MS, type Testnet, withTestnet } from "@save-dweb/veilid-testnet"
import { Context, Effect, Exit, Layer, Logger, Option, Stream } from "effect"
import {
  decodeConfig,
  MAX_APP_MESSAGE_BYTES,
  makeVeilid,
  type VeilidLayerOptions,
  type VeilidShape,
} from "../src/index.ts"
import { eventually, nextUpdate, randomBytes, text, untext, untilSuccess } from "./support.ts"

// Generous: the CI machine has 2 cores and other testnets may run beside this one.
const nodeOptions: VeilidLayerOptions = { readyTimeout: "90 seconds" }

class Nodes extends Context.Service<
  Nodes,
  { readonly testnet: Testnet; readonly a: VeilidShape; readonly b: VeilidShape }
>()("test/Nodes") {}

const NodesLive = Layer.effect(
  Nodes,
  Effect.gen(function* () {
    const testnet = yield* withTestnet()
    const node = (name: string) =>
      Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
        makeVeilid(config, nodeOptions),
      )
    const [a, b] = yield* Effect.all([node("a"), node("b")], { concurrency: 2 })
    return { testnet, a, b }
  }),
)

const textOf = (value: Option.Option<{ readonly data: Uint8Array }>) =>
  Option.map(value, (v) => untext(v.data))

/** Reads a subkey with force_refresh until the network gives `expected` (or the deadline passes). */
const readUntil = (node: VeilidShape, key: string, subkey: number, expected: Uint8Array) =>
  eventually(
    `subkey ${subkey} of ${key}`,
    node.dhtGet(key, subkey, { forceRefresh: true }),
    (value) => Option.isSome(value) && Buffer.from(value.value.data).equals(expected),
  )

/** B's side of app_call: answers every call with the message's bytes reversed. */
const reverse = (message: Uint8Array) => Uint8Array.from(message).reverse()

layer(NodesLive, { timeout: "420 seconds", excludeTestServices: true })(
  "on a private testnet",
  (it) => {
    it.effect("every testnet node and both nodes under test are ready within the deadline", () =>
      Effect.gen(function* () {
        const { testnet, a, b } = yield* Nodes
        expect(testnet.nodes).toHaveLength(8)
        expect(testnet.readyAfterMs).toBeLessThan(DEFAULT_READY_TIMEOUT_MS)
        for (const node of [a, b]) {
          const attachment = yield* node.attachment
          expect(attachment.publicInternetReady).toBe(true)
          expect(attachment.state).toMatch(/^Attached/)
          expect(yield* node.nodeIds).toHaveLength(1)
        }
        expect(yield* a.nodeIds).not.toEqual(yield* b.nodeIds)
      }),
    )

    it.effect("subkeys A writes are read by B, and an unwritten subkey is empty", () =>
      Effect.gen(function* () {
        const { a, b } = yield* Nodes
        const record = yield* a.dhtCreate({ kind: "DFLT", oCnt: 4 })
        expect(record.ownerSecret).toBeDefined()
        // Subkey 2 holds the largest value a subkey takes (MAX_SUBKEY_SIZE in veilid-core).
        const values = [text("name"), text("hello from a"), randomBytes(32_768)]
        for (const [subkey, data] of values.entries()) {
          expect(yield* untilSuccess("set", a.dhtSet(record.key, subkey, data))).toEqual(
            Option.none(),
          )
        }

        // Another node finds a record just written once the DHT has spread it.
        const opened = yield* untilSuccess("open", b.dhtOpen(record.key))
        expect(opened.schema).toEqual({ kind: "DFLT", oCnt: 4 })
        expect(opened.ownerSecret).toBeUndefined()
        for (const [subkey, data] of values.entries()) {
          yield* readUntil(b, record.key, subkey, data)
        }
        // Cached now: a local read needs no network.
        expect(textOf(yield* b.dhtGet(record.key, 1))).toEqual(Option.some("hello from a"))
        expect(yield* b.dhtGet(record.key, 3, { forceRefresh: true })).toEqual(Option.none())
        // B cannot write a record it holds no key for.
        const refused = yield* Effect.exit(b.dhtSet(record.key, 0, text("not b's")))
        expect(Exit.isFailure(refused)).toBe(true)

        const report = yield* a.dhtInspect(record.key)
        expect(report.subkeys).toEqual([[0, 3]])
        expect(report.localSeqs.slice(0, 3)).toEqual([0, 0, 0])
        yield* b.dhtClose(record.key)
        yield* a.dhtClose(record.key)
      }),
    )

    it.effect("B watching a record receives A's next change", () =>
      Effect.gen(function* () {
        const { a, b } = yield* Nodes
        const record = yield* a.dhtCreate({ kind: "DFLT", oCnt: 2 })
        yield* untilSuccess("set v1", a.dhtSet(record.key, 0, text("v1")))
        yield* b.dhtOpen(record.key)
        yield* readUntil(b, record.key, 0, text("v1"))

        const updates = yield* b.subscribe
        expect(yield* b.dhtWatch(record.key)).toBe(true)
        yield* untilSuccess("set v2", a.dhtSet(record.key, 0, text("v2")))
        const change = yield* nextUpdate(updates, "ValueChange", (u) => u.key === record.key)
        expect(change.subkeys).toEqual([[0, 0]])
        // A single-subkey change carries the new value.
        if (change.value !== undefined) expect(untext(change.value.data)).toBe("v2")
        yield* readUntil(b, record.key, 0, text("v2"))
        yield* b.dhtCancelWatch(record.key)
        yield* b.dhtClose(record.key)
        yield* a.dhtClose(record.key)
      }),
    )

    it.effect("A app_calls B's private route with 32 KiB and gets B's 32 KiB reply", () =>
      Effect.gen(function* () {
        const { a, b } = yield* Nodes
        const calls = yield* b.subscribe
        yield* calls.pipe(
          Stream.runForEach((u) =>
            u._tag === "AppCall" ? b.appCallReply(u.callId, reverse(u.message)) : Effect.void,
          ),
          Effect.forkScoped,
        )
        const route = yield* untilSuccess("B's private route", b.privateRoute())
        const target = yield* a.importRemotePrivateRoute(route.blob)

        expect(MAX_APP_MESSAGE_BYTES).toBe(32_768)
        const message = randomBytes(MAX_APP_MESSAGE_BYTES)
        const reply = yield* untilSuccess("app_call", a.appCall(target, message))
        expect(reply.length).toBe(MAX_APP_MESSAGE_BYTES)
        expect(Buffer.from(reply).equals(Buffer.from(reverse(message)))).toBe(true)
        // A short one over the same route, to see replies are not mixed up.
        expect(untext(yield* untilSuccess("app_call", a.appCall(target, text("ping"))))).toBe(
          "gnip",
        )

        // One byte over Veilid's limit is refused before it is sent.
        const tooLong = yield* Effect.flip(a.appCall(target, new Uint8Array(32_769)))
        expect(tooLong._tag).toBe("VeilidInvalidArgument")
      }),
    )

    it.effect("a 32 KiB app_message arrives on the route it was sent to", () =>
      Effect.gen(function* () {
        const { a, b } = yield* Nodes
        const route = yield* untilSuccess("B's private route", b.privateRoute())
        const target = yield* a.importRemotePrivateRoute(route.blob)
        const messages = yield* b.subscribe
        const message = randomBytes(MAX_APP_MESSAGE_BYTES)
        yield* untilSuccess("app_message", a.appMessage(target, message))
        const received = yield* nextUpdate(messages, "AppMessage")
        expect(Buffer.from(received.message).equals(Buffer.from(message))).toBe(true)
        expect(received.routeId).toBe(route.routeId)
        expect(received.sender).toBeUndefined()
      }),
    )

    it.effect("a table store value and an owned record survive a restart of an attached node", () =>
      Effect.gen(function* () {
        const { testnet } = yield* Nodes
        const config = yield* decodeConfig(testnet.nodeConfig("restarted"))

        const before = yield* Effect.scoped(
          Effect.gen(function* () {
            const node = yield* makeVeilid(config, nodeOptions)
            // veilid-core keeps no owner secret across restarts: the app stores the key pair.
            const owner = yield* node.generateKeyPair()
            const record = yield* node.dhtCreate({ kind: "DFLT", oCnt: 1 }, { owner })
            yield* untilSuccess("set", node.dhtSet(record.key, 0, text("owned")))
            const db = yield* node.openTableDb("restart", 1)
            yield* db.store(0, text(record.key), text(owner))
            return { nodeIds: yield* node.nodeIds, key: record.key }
          }),
        )

        const after = yield* Effect.scoped(
          Effect.gen(function* () {
            const node = yield* makeVeilid(config, nodeOptions)
            const db = yield* node.openTableDb("restart", 1)
            const owner = yield* db.load(0, text(before.key))
            const withoutWriter = yield* node.dhtOpen(before.key)
            const local = yield* node.dhtGet(before.key, 0)
            const reopened = yield* node.dhtOpen(before.key, {
              writer: untext(Option.getOrThrow(owner)),
            })
            return {
              nodeIds: yield* node.nodeIds,
              ownerSecretWithoutWriter: withoutWriter.ownerSecret,
              local,
              ownerSecret: reopened.ownerSecret,
              rewrite: yield* untilSuccess("set", node.dhtSet(before.key, 0, text("owned, again"))),
            }
          }),
        )
        expect(after.nodeIds).toEqual(before.nodeIds)
        expect(textOf(after.local)).toEqual(Option.some("owned"))
        expect(after.ownerSecretWithoutWriter).toBeUndefined()
        expect(after.ownerSecret).toBeDefined()
        expect(after.rewrite).toEqual(Option.none())
      }),
    )

    it.effect(
      "a node under test logs its attachment states while it attaches, and offers no relay",
      () =>
        Effect.gen(function* () {
          const { testnet } = yield* Nodes
          const config = yield* decodeConfig(testnet.nodeConfig("logged"))
          expect(config.capabilities.disable).toEqual(expect.arrayContaining(["RLAY", "SGNL"]))
          const lines: Array<string> = []
          const capture = Logger.map(Logger.formatStructured, (out) => {
            lines.push(JSON.stringify(out))
          })
          yield* Effect.scoped(makeVeilid(config, nodeOptions)).pipe(
            Effect.provide(Logger.layer([capture])),
          )
          const attachment = lines.filter((l) => l.includes("veilid attachment"))
          expect(attachment.length).toBeGreaterThan(0)
          expect(attachment[0]).toMatch(/"state":"(Attaching|Attached\w+)"/)
          expect(attachment[0]).toMatch(/"afterMillis":\d+/)
        }),
    )
  },
)
