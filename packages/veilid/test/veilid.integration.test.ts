// Two nodes of our own on a private testnet (tooling/veilid-testnet): run with
// `pnpm --filter @save-dweb/veilid test:integration`.
import { expect, layer } from "@effect/vitest"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Context, Effect, Fiber, Layer, Option, Stream } from "effect"
import { decodeConfig, makeVeilid, type VeilidShape, type VeilidUpdate } from "../src/index.ts"

class Nodes extends Context.Service<Nodes, { readonly a: VeilidShape; readonly b: VeilidShape }>()(
  "test/Nodes",
) {}

const NodesLive = Layer.effect(
  Nodes,
  Effect.gen(function* () {
    const testnet = yield* withTestnet()
    const node = (name: string) =>
      Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
        makeVeilid(config, { readyTimeout: "90 seconds" }),
      )
    const [a, b] = yield* Effect.all([node("a"), node("b")], { concurrency: 2 })
    return { a, b }
  }),
)

const text = (s: string) => new TextEncoder().encode(s)

type UpdateOf<Tag extends VeilidUpdate["_tag"]> = Extract<VeilidUpdate, { readonly _tag: Tag }>

/** The first update with `tag` (and matching `where`), waited for with a deadline. */
const nextUpdate = <Tag extends VeilidUpdate["_tag"]>(
  updates: Stream.Stream<VeilidUpdate>,
  tag: Tag,
  where: (u: UpdateOf<Tag>) => boolean = () => true,
) =>
  updates.pipe(
    Stream.filter((u): u is UpdateOf<Tag> => u._tag === tag && where(u as UpdateOf<Tag>)),
    Stream.runHead,
    Effect.flatMap((found) => Effect.fromOption(found)),
    Effect.timeout("60 seconds"),
  )

layer(NodesLive, { timeout: "300 seconds", excludeTestServices: true })(
  "on a private testnet",
  (it) => {
    it.effect("a value written by one node is read by another", () =>
      Effect.gen(function* () {
        const { a, b } = yield* Nodes
        const record = yield* a.dhtCreate({ kind: "DFLT", oCnt: 2 })
        expect(record.ownerSecret).toBeDefined()
        expect(yield* a.dhtSet(record.key, 0, text("hello"))).toEqual(Option.none())

        const opened = yield* b.dhtOpen(record.key)
        expect(opened.schema).toEqual({ kind: "DFLT", oCnt: 2 })
        const value = yield* b.dhtGet(record.key, 0, { forceRefresh: true })
        expect(Option.map(value, (v) => new TextDecoder().decode(v.data))).toEqual(
          Option.some("hello"),
        )
        expect(yield* b.dhtGet(record.key, 1, { forceRefresh: true })).toEqual(Option.none())

        const report = yield* a.dhtInspect(record.key)
        expect(report.subkeys).toEqual([[0, 1]])
        yield* b.dhtClose(record.key)
        yield* a.dhtClose(record.key)
      }),
    )

    it.effect("a watcher hears about a change", () =>
      Effect.gen(function* () {
        const { a, b } = yield* Nodes
        const record = yield* a.dhtCreate({ kind: "DFLT", oCnt: 1 })
        yield* a.dhtSet(record.key, 0, text("v1"))
        yield* b.dhtOpen(record.key)
        const updates = yield* b.subscribe
        expect(yield* b.dhtWatch(record.key)).toBe(true)
        yield* a.dhtSet(record.key, 0, text("v2"))
        const change = yield* nextUpdate(updates, "ValueChange", (u) => u.key === record.key)
        expect(change.subkeys).toEqual([[0, 0]])
        yield* b.dhtCancelWatch(record.key)
      }),
    )

    it.effect("app_call reaches a private route and gets its reply", () =>
      Effect.gen(function* () {
        const { a, b } = yield* Nodes
        const route = yield* b.privateRoute()
        const target = yield* a.importRemotePrivateRoute(route.blob)

        const calls = yield* b.subscribe
        const answer = yield* nextUpdate(calls, "AppCall").pipe(
          Effect.flatMap((call) =>
            b.appCallReply(call.callId, text(`re: ${new TextDecoder().decode(call.message)}`)),
          ),
          Effect.forkScoped,
        )
        const reply = yield* a.appCall(target, text("ping"))
        expect(new TextDecoder().decode(reply)).toBe("re: ping")
        yield* Fiber.join(answer)
      }),
    )

    it.effect("app_message arrives on the route it was sent to", () =>
      Effect.gen(function* () {
        const { a, b } = yield* Nodes
        const route = yield* b.privateRoute()
        const target = yield* a.importRemotePrivateRoute(route.blob)
        const messages = yield* b.subscribe
        yield* a.appMessage(target, text("one way"))
        const message = yield* nextUpdate(messages, "AppMessage")
        expect(new TextDecoder().decode(message.message)).toBe("one way")
        expect(message.routeId).toBe(route.routeId)
      }),
    )
  },
)
