// `@save-dweb/client/promise` against the real server over memory backends: what a
// program that does not use Effect sees, end to end (fetch, web streams, async iterables).
import { writeFile } from "node:fs/promises"
import { connect } from "node:net"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { makeClient, type SaveDwebClient, UnknownGroup } from "@save-dweb/client/promise"
import { Effect, Exit, Scope } from "effect"
import { serve } from "../src/index.ts"
import { memoryBackend, type Node, networks, node, pattern, tempDir } from "./support.ts"

/** A Promise client for a node, closed with the scope. */
const promiseClient = (of: Node) =>
  Effect.acquireRelease(
    Effect.sync(() => makeClient({ baseUrl: of.served.url, token: of.served.token })),
    (client) => Effect.promise(() => client.close()),
  )

const collect = (stream: ReadableStream<Uint8Array>) =>
  Effect.promise(async () => new Uint8Array(await new Response(stream).arrayBuffer()))

const use = <A>(f: () => Promise<A>) => Effect.promise(f)

describe("the Promise client against the server", () => {
  it.live("groups, invites and joins, every upload input, downloads and ranges", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* node(nets)
      const b = yield* node(nets)
      const alice: SaveDwebClient = yield* promiseClient(a)
      const bob: SaveDwebClient = yield* promiseClient(b)
      assert.deepStrictEqual(yield* use(() => alice.health()), { ok: true, api: "v1" })
      const g = yield* use(() => alice.groups.create({ name: "Promises", memberName: "Alice" }))
      assert.deepStrictEqual(
        (yield* use(() => alice.groups.list())).map((x) => x.name),
        ["Promises"],
      )
      const link = yield* use(() => alice.groups.invite(g.key, "read"))
      yield* use(() => bob.groups.join({ link, memberName: "Bob" }))

      const bytes = pattern(300_000)
      const dir = yield* tempDir
      yield* use(() => writeFile(join(dir, "disk.bin"), bytes))
      const inputs = {
        "bytes.bin": bytes,
        "blob.bin": new Blob([bytes]),
        "web.bin": new Blob([bytes]).stream(),
        "iterable.bin": (async function* () {
          for (let at = 0; at < bytes.length; at += 64 * 1024) yield bytes.subarray(at, at + 65536)
        })(),
        "disk.bin": join(dir, "disk.bin"),
      }
      for (const [name, input] of Object.entries(inputs)) {
        let sent = 0
        const info = yield* use(() =>
          alice.files.upload(g.key, name, input, {
            onProgress: (n) => {
              sent = n
            },
          }),
        )
        assert.strictEqual(info.size, bytes.length, name)
        assert.strictEqual(sent, bytes.length, name)
      }
      const listed = yield* use(() => bob.files.list(g.key, g.repo as string))
      assert.deepStrictEqual(listed.map((f) => f.name).sort(), Object.keys(inputs).sort())
      for (const name of Object.keys(inputs)) {
        const whole = yield* use(() => bob.files.download(g.key, g.repo as string, name))
        assert.deepStrictEqual(yield* collect(whole.body), bytes, name)
      }
      const part = yield* use(() =>
        bob.files.download(g.key, g.repo as string, "web.bin", {
          range: { start: 1000, end: 1999 },
        }),
      )
      assert.deepStrictEqual([part.size, part.start, part.end], [bytes.length, 1000, 1999])
      assert.deepStrictEqual(yield* collect(part.body), bytes.subarray(1000, 2000))
      // A body left unread can be cancelled; the next call is unaffected.
      const unread = yield* use(() => bob.files.download(g.key, g.repo as string, "blob.bin"))
      yield* use(() => unread.body.cancel())
      yield* use(() => alice.files.delete(g.key, "bytes.bin"))
      assert.strictEqual((yield* use(() => alice.files.list(g.key, "mine"))).length, 4)
    }).pipe(Effect.scoped),
  )

  it.live("errors reject with the API's classes; events come as an async iterable", () =>
    Effect.gen(function* () {
      const a = yield* node(yield* networks)
      const client = yield* promiseClient(a)
      const error = yield* use(() => client.groups.get("VLD0:nothing").catch((e: unknown) => e))
      assert.instanceOf(error, UnknownGroup)
      const subscription = yield* use(() => client.subscribe())
      const g = yield* use(() => client.groups.create({ name: "Watched" }))
      yield* use(() => client.files.upload(g.key, "x.bin", new Uint8Array(10)))
      const seen: Array<string> = []
      yield* use(async () => {
        for await (const event of subscription) {
          seen.push(event._tag)
          if (event._tag === "FilesChanged") break
        }
      })
      yield* use(() => subscription.close())
      assert.deepStrictEqual(seen.slice(0, 1), ["GroupOpened"])
      assert.include(seen, "FilesChanged")
    }).pipe(Effect.scoped),
  )

  it.live("a connection that never sends a request does not hold the server's shutdown", () =>
    Effect.gen(function* () {
      const backend = yield* memoryBackend(yield* networks)
      const scope = yield* Scope.make()
      const served = yield* serve({ backend, dataDir: yield* tempDir, listen: { port: 0 } }).pipe(
        Effect.orDie,
        Scope.provide(scope),
      )
      const port = served.address._tag === "Tcp" ? served.address.port : 0
      const idle = connect(port, "127.0.0.1")
      idle.on("error", () => {})
      yield* Effect.promise(() => new Promise((resolve) => idle.once("connect", resolve)))
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      idle.destroy()
      assert.isBelow(Date.now() - started, 2000)
    }).pipe(Effect.scoped),
  )
})
