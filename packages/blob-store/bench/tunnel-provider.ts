// The providing side of bench/tunnel.ts in its own process (its own Veilid node, Iroh
// store and event loop, as on another machine). First stdin line: { config, key, dir };
// it answers { route, source }, then one JSON line per command. `ipv4Addr`/`ipv6Addr` bind
// its Iroh node (default loopback); bench/wan.ts binds it to the node's testnet address,
// where the emulated network applies.
import * as path from "node:path"
import { createInterface } from "node:readline"
import { SecretKey } from "@save-dweb/crypto"
import { makeTunnels, Tunnels } from "@save-dweb/tunnels"
import { decodeConfig, makeVeilid, Veilid } from "@save-dweb/veilid"
import { Effect, References } from "effect"
import { type BlobHash, BlobStore, serveBlobs } from "../src/index.ts"
import { makeIroh } from "../src/iroh-store.ts"
import { randomFile, reply, seededFile } from "./common.ts"

type Command =
  | { cmd: "addRandom"; size: number }
  | { cmd: "addCollection"; count: number; size: number; seed?: string }
  | { cmd: "addSeeded"; size: number; seed: string }
  | { cmd: "delete"; hash: BlobHash }
  | { cmd: "route" }
  | { cmd: "exit" }

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const next = <A>() =>
  Effect.promise(async () => JSON.parse((await lines.next()).value as string) as A)

const program = Effect.gen(function* () {
  const start = yield* next<{
    config: unknown
    key: string
    dir: string
    ipv4Addr?: string
    ipv6Addr?: string
  }>()
  const [veilid, store] = yield* Effect.all(
    [
      Effect.flatMap(decodeConfig(start.config), (config) =>
        makeVeilid(config, { readyTimeout: "90 seconds" }),
      ),
      makeIroh({
        dir: path.join(start.dir, "store"),
        ipv4Addr: start.ipv4Addr ?? "127.0.0.1:0",
        ipv6Addr: start.ipv6Addr ?? "[::1]:0",
        fetchTimeoutMillis: 30_000,
      }),
    ],
    { concurrency: 2 },
  )
  const key = yield* SecretKey.fromHex(start.key)
  const tunnels = yield* makeTunnels().pipe(Effect.provideService(Veilid, veilid))
  yield* serveBlobs({ keys: [key] }).pipe(
    Effect.provideService(BlobStore, store),
    Effect.provideService(Tunnels, tunnels),
  )
  reply({
    route: Buffer.from((yield* tunnels.route).blob).toString("base64"),
    source: yield* store.source(),
  })
  while (true) {
    const command = yield* next<Command>()
    switch (command.cmd) {
      case "addRandom": {
        const file = path.join(start.dir, "input")
        yield* Effect.promise(() => randomFile(file, command.size))
        reply({ hash: yield* store.addPath(file) })
        break
      }
      case "addSeeded": {
        const file = path.join(start.dir, "input")
        yield* Effect.promise(() => seededFile(file, command.size, command.seed))
        reply({ hash: yield* store.addPath(file) })
        break
      }
      case "addCollection": {
        const entries: Array<{ name: string; hash: BlobHash }> = []
        for (let i = 0; i < command.count; i++) {
          const file = path.join(start.dir, "input")
          const { seed } = command
          yield* Effect.promise(() =>
            seed === undefined
              ? randomFile(file, command.size)
              : seededFile(file, command.size, `${seed}/${i}`),
          )
          entries.push({ name: `file-${i}`, hash: yield* store.addPath(file) })
        }
        reply({ hash: yield* store.createCollection(entries) })
        break
      }
      case "route":
        reply({ route: Buffer.from((yield* tunnels.route).blob).toString("base64") })
        break
      case "delete":
        reply(yield* store.delete(command.hash))
        break
      case "exit":
        return
    }
  }
})

// stdout is the answer channel: Effect's logger (Veilid's attachment log) would write there.
Effect.runPromise(
  Effect.scoped(program).pipe(Effect.provideService(References.MinimumLogLevel, "Warn")),
).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
