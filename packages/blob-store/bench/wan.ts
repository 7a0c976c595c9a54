// Fetching on an emulated WAN (issue 15), three tables from one testnet run:
//   pnpm --filter @save-dweb/blob-store bench:wan [-- --mib 16 --files 1000 --reps 1
//     --cases sources,plain,files --tunnel-window N --concurrency N]
// Three provider processes (each its own Veilid node and Iroh store, serving blobs over
// its tunnel) and this process (Veilid node, Iroh store) on a testnet whose every node's
// link is shaped (`testnet.shape`: one-way delay, uplink rate). Every Iroh node is bound
// to its Veilid node's testnet address, where the shaping applies (loopback is never
// shaped). Each fetch goes into a fresh store, so nothing is found locally.
//   (a) sources: one blob from 1, 2 and 3 sources at 150 ms round trip, every uplink at
//       10 Mbit/s, over the private path (tunnels) and the direct path (Iroh);
//   (b) plain: the direct path against plain @number0/iroh download at 50 ms, 10 Mbit/s;
//   (c) files: `--files` files of 64 KiB from 1 and 3 sources at 50 ms, both paths.
// Rows of a table are measured side by side, alternating. Asserts nothing about time.

import { spawn } from "node:child_process"
import { lookup } from "node:dns/promises"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { parseArgs } from "node:util"
import {
  BlobDownloadOptions,
  type BlobFormat,
  Iroh,
  type NodeDiscoveryConfig,
  SetTagOption,
} from "@number0/iroh"
import { SecretKey } from "@save-dweb/crypto"
import { makeTunnels } from "@save-dweb/tunnels"
import { decodeConfig, makeVeilid, Veilid } from "@save-dweb/veilid"
import { type LinkShape, withTestnet } from "@save-dweb/veilid-testnet"
import { Effect } from "effect"
import { askHas, type BlobHash, type IrohSource, type Source, tunnelSource } from "../src/index.ts"
import { makeIroh } from "../src/iroh-store.ts"
import { MiB } from "./common.ts"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    mib: { type: "string", default: "16" },
    files: { type: "string", default: "1000" },
    reps: { type: "string", default: "1" },
    cases: { type: "string", default: "sources,plain,files" },
    // The fetcher's tunnel window (default: unset, sized from the call time).
    "tunnel-window": { type: "string" },
    // Blobs in flight per source (the fetch's `concurrencyPerSource`, default 16 for Iroh, 4 for tunnels).
    concurrency: { type: "string" },
    // Whose uplink is capped: "all" nodes (the testnet's, which carry the private routes'
    // hops, too) or only the "ends" (fetcher and providers; the hops get the delay alone).
    "cap-nodes": { type: "string", default: "all" },
    // Adds rows over tunnels as they were before early resends and a paced window
    // (`resendEarly: false, paceWindow: false`), alternating with the others.
    "tunnel-before": { type: "boolean", default: false },
    // Source counts of the sources case.
    sources: { type: "string", default: "1,2,3" },
    // Testnet nodes besides the four under test (they carry the private routes' hops).
    "testnet-nodes": { type: "string", default: "8" },
  },
})
const blobBytes = Number(values.mib) * MiB
const fileCount = Number(values.files)
const reps = Number(values.reps)
const cases = new Set(values.cases.split(","))
const capMbit = 10

const pathNames = {
  tunnel: "private path (tunnels)",
  before: "private path, before (5 s resend, unpaced)",
  iroh: "direct path (Iroh)",
} as const

const median = (xs: ReadonlyArray<number>) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  console.log(`\n| ${header.join(" | ")} |`)
  console.log(`|${header.map(() => "---:").join("|")}|`)
  for (const row of rows) console.log(`| ${row.join(" | ")} |`)
}

/** A node under test's IPv4 address: its config listens on its name in the testnet zone. */
const addressOf = (config: unknown) =>
  Effect.promise(async () => {
    const listen = (config as { network: { protocol: { udp: { listen_address: string } } } })
      .network.protocol.udp.listen_address
    return (await lookup(listen.slice(0, listen.lastIndexOf(":")), { family: 4 })).address
  })

const program = Effect.gen(function* () {
  const started = Date.now()
  const base = yield* Effect.acquireRelease(
    Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "blob-store-wan-bench-"))),
    (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true })),
  )
  const testnet = yield* withTestnet({ nodes: Number(values["testnet-nodes"]) })
  const key = yield* SecretKey.generate

  const startProvider = (name: string) =>
    Effect.gen(function* () {
      const config = testnet.nodeConfig(name)
      const ip = yield* addressOf(config)
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(
            process.execPath,
            [
              "--conditions=@save-dweb/source",
              path.join(import.meta.dirname, "tunnel-provider.ts"),
            ],
            { stdio: ["pipe", "pipe", "inherit"] },
          ),
        ),
        (proc) =>
          Effect.callback<void>((resume) => {
            if (proc.exitCode !== null) return resume(Effect.void)
            proc.once("exit", () => resume(Effect.void))
            proc.stdin.write(`${JSON.stringify({ cmd: "exit" })}\n`)
          }),
      )
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
      const call = <A>(command: object) =>
        Effect.promise(async () => {
          child.stdin.write(`${JSON.stringify(command)}\n`)
          return JSON.parse((await lines.next()).value as string) as A
        })
      const dir = path.join(base, name)
      yield* Effect.promise(() => fs.mkdir(dir))
      const hello = yield* call<{ route: string; source: IrohSource }>({
        config,
        key: SecretKey.toHex(key),
        dir,
        ipv4Addr: `${ip}:0`,
      })
      // Only the testnet address: a loopback one would bypass the shaping.
      const addresses = hello.source.addresses.filter((a) => a.startsWith(`${ip}:`))
      if (addresses.length === 0) throw new Error(`${name}: no Iroh address on ${ip}`)
      return { name, call, hello: { ...hello, source: { ...hello.source, addresses } } }
    })

  const fetcherConfig = testnet.nodeConfig("wan-fetcher")
  const fetcherIp = yield* addressOf(fetcherConfig)
  const [providers, veilid] = yield* Effect.all(
    [
      Effect.all(
        [1, 2, 3].map((i) => startProvider(`wan-provider-${i}`)),
        { concurrency: "unbounded" },
      ),
      Effect.flatMap(decodeConfig(fetcherConfig), (config) =>
        makeVeilid(config, { readyTimeout: "90 seconds" }),
      ),
    ],
    { concurrency: "unbounded" },
  )
  const tunnelWindow = values["tunnel-window"]
  const tunnelOptions = tunnelWindow === undefined ? {} : { window: Number(tunnelWindow) }
  const tunnels = yield* makeTunnels(tunnelOptions).pipe(Effect.provideService(Veilid, veilid))
  // A second engine on the same node, as tunnels was before (its own route).
  const tunnelsBefore = yield* makeTunnels({
    ...tunnelOptions,
    resendEarly: false,
    paceWindow: false,
  }).pipe(Effect.provideService(Veilid, veilid))
  /** Each provider's current route, connected (again after a route died under the shaping). */
  const connectAll = Effect.forEach(providers, (p, i) =>
    Effect.gen(function* () {
      const { route } = yield* p.call<{ route: string }>({ cmd: "route" })
      const blob = Buffer.from(route, "base64")
      const peer = yield* tunnels.connect(blob, key)
      const before = yield* tunnelsBefore.connect(blob, key)
      return {
        iroh: { ...p.hello.source, id: `iroh-${i + 1}` } as Source,
        tunnel: tunnelSource(peer, { id: `tunnel-${i + 1}` }) as Source,
        before: tunnelSource(before, { id: `before-${i + 1}` }) as Source,
      }
    }),
  )
  let sources = yield* connectAll
  console.log(
    `testnet, 4 nodes and stores ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  )

  const names = [
    ...testnet.nodes.map((n) => n.name),
    "wan-fetcher",
    ...providers.map((p) => p.name),
  ]
  const hops = new Set(testnet.nodes.map((n) => n.name))
  const shapeAll = (shape: LinkShape) => {
    for (const name of names) {
      const { rateMbit: _, ...delayOnly } = shape
      testnet.shape(name, values["cap-nodes"] === "ends" && hops.has(name) ? delayOnly : shape)
    }
  }
  /** Adds the same bytes on every provider. */
  const addEverywhere = <A extends { hash: BlobHash }>(command: object) =>
    Effect.map(
      Effect.all(
        providers.map((p) => p.call<A>(command)),
        { concurrency: "unbounded" },
      ),
      (answers) => answers[0] as A,
    )
  const warm = (hash: BlobHash) =>
    Effect.forEach(
      sources.flatMap((s) => [s.tunnel, s.before]),
      (s) => askHas(s as never, [hash]),
      { discard: true },
    )

  let runs = 0
  /** One fetch into a fresh store bound to the fetcher's address; seconds and per-source split. */
  const fetchOnce = (
    hash: BlobHash,
    kind: "blob" | "collection",
    path_: "iroh" | "tunnel" | "before",
    n: number,
    tries = 3,
  ): Effect.Effect<{ seconds: number; split: Array<number> }> =>
    Effect.scoped(
      Effect.gen(function* () {
        const store = yield* makeIroh({
          dir: path.join(base, `fetch-${++runs}`),
          ipv4Addr: `${fetcherIp}:0`,
          ipv6Addr: "[::1]:0",
          fetchTimeoutMillis: 120_000,
        })
        const from = sources.slice(0, n).map((s) => s[path_])
        const t0 = performance.now()
        const result = yield* store.fetch({
          hash,
          kind,
          sources: from,
          timeoutMillis: 120_000,
          // A blob's size is known, as a manifest gives it to the data repo.
          ...(kind === "blob" ? { expectedSize: blobBytes } : {}),
          ...(values.concurrency === undefined
            ? {}
            : { concurrencyPerSource: Number(values.concurrency) }),
        })
        const seconds = (performance.now() - t0) / 1000
        return { seconds, split: result.sources.map((s) => Math.round(s.bytes / 1024)) }
      }),
    ).pipe(
      // A private route can die under a loaded, delayed testnet: ask for the new ones, again.
      Effect.catch((error) =>
        Effect.gen(function* () {
          if (tries <= 1) return yield* Effect.fail(error)
          console.log(`fetch failed (${error._tag}); reconnecting and trying again`)
          // Past tunnels' deadPeerTtl (60 s): a route marked dead is refused until then.
          yield* Effect.sleep("65 seconds")
          sources = yield* connectAll
          return yield* fetchOnce(hash, kind, path_, n, tries - 1)
        }),
      ),
      Effect.orDie,
    )

  if (cases.has("sources")) {
    shapeAll({ delayMs: 75, rateMbit: capMbit })
    const { hash } = yield* addEverywhere<{ hash: BlobHash }>({
      cmd: "addSeeded",
      size: blobBytes,
      seed: "sources",
    })
    yield* warm(hash)
    const paths = values["tunnel-before"]
      ? (["before", "tunnel", "iroh"] as const)
      : (["tunnel", "iroh"] as const)
    // Run in turn per source count (before / now / Iroh), printed per path.
    const runOrder = values.sources
      .split(",")
      .map(Number)
      .flatMap((n) => paths.map((path) => ({ path, n, seconds: [] as Array<number>, split: "" })))
    const modes = paths.flatMap((path) => runOrder.filter((m) => m.path === path))
    for (let r = 0; r < reps; r++) {
      for (const m of runOrder) {
        const { seconds, split } = yield* fetchOnce(hash, "blob", m.path, m.n)
        m.seconds.push(seconds)
        m.split = split.map((k) => `${Math.round(k / 1024)}`).join(" / ")
        console.log(
          `(a) ${m.path} ${m.n} source(s): ${seconds.toFixed(2)} s (MiB each: ${m.split})`,
        )
      }
    }
    table(
      [
        `${values.mib} MiB, 150 ms, ${capMbit} Mbit/s uplinks`,
        "sources",
        "seconds",
        "Mbit/s",
        "of one uplink",
        "× one source",
        "MiB from each",
      ],
      modes.map((m) => {
        const mbit = (blobBytes * 8) / 1e6 / median(m.seconds)
        const one = modes.find((o) => o.path === m.path && o.n === 1)
        const oneMbit = one ? (blobBytes * 8) / 1e6 / median(one.seconds) : Number.NaN
        return [
          pathNames[m.path],
          String(m.n),
          median(m.seconds).toFixed(1),
          mbit.toFixed(2),
          `${Math.round((100 * mbit) / capMbit)} %`,
          (mbit / oneMbit).toFixed(2),
          m.split,
        ]
      }),
    )
  }

  if (cases.has("plain")) {
    shapeAll({ delayMs: 25, rateMbit: capMbit })
    const { hash } = yield* addEverywhere<{ hash: BlobHash }>({
      cmd: "addSeeded",
      size: blobBytes,
      seed: "plain",
    })
    const source = (sources[0] as { iroh: IrohSource }).iroh
    const plainOnce = Effect.promise(async () => {
      const iroh = await Iroh.persistent(path.join(base, `plain-${++runs}`), {
        nodeDiscovery: "None" as NodeDiscoveryConfig,
        ipv4Addr: `${fetcherIp}:0`,
        ipv6Addr: "[::1]:0",
      })
      const t0 = performance.now()
      let error: Error | undefined
      await iroh.blobs.download(
        hash,
        new BlobDownloadOptions(
          "Raw" as BlobFormat,
          [{ nodeId: source.nodeId, addresses: [...source.addresses] }],
          SetTagOption.auto(),
        ),
        (err) => {
          if (err) error = err
        },
      )
      const seconds = (performance.now() - t0) / 1000
      await iroh.node.shutdown()
      if (error) throw error
      return seconds
    })
    const store: Array<number> = []
    const plain: Array<number> = []
    for (let r = 0; r < Math.max(3, reps); r++) {
      store.push((yield* fetchOnce(hash, "blob", "iroh", 1)).seconds)
      plain.push(yield* plainOnce)
      console.log(`(b) store ${store.at(-1)?.toFixed(2)} s, plain ${plain.at(-1)?.toFixed(2)} s`)
    }
    const rate = (s: ReadonlyArray<number>) => (blobBytes * 8) / 1e6 / median(s)
    table(
      [
        `${values.mib} MiB, 50 ms, ${capMbit} Mbit/s uplinks`,
        "seconds (median)",
        "Mbit/s",
        "× plain",
      ],
      [
        ["plain @number0/iroh download", median(plain).toFixed(2), rate(plain).toFixed(2), "1"],
        [
          "blob-store fetch, direct path",
          median(store).toFixed(2),
          rate(store).toFixed(2),
          (rate(store) / rate(plain)).toFixed(2),
        ],
      ],
    )
  }

  if (cases.has("files") && fileCount > 0) {
    shapeAll({ delayMs: 25 })
    const { hash } = yield* addEverywhere<{ hash: BlobHash }>({
      cmd: "addCollection",
      count: fileCount,
      size: 64 * 1024,
      seed: "files",
    })
    yield* warm(hash)
    const modes = (["iroh", "tunnel"] as const).flatMap((path) =>
      [1, 3].map((n) => ({ path, n, seconds: [] as Array<number>, split: "" })),
    )
    for (let r = 0; r < reps; r++) {
      for (const m of modes) {
        const { seconds, split } = yield* fetchOnce(hash, "collection", m.path, m.n)
        m.seconds.push(seconds)
        m.split = split.map((k) => `${Math.round(k / 64)}`).join(" / ")
        console.log(
          `(c) ${m.path} ${m.n} source(s): ${seconds.toFixed(2)} s (files each ≈ ${m.split})`,
        )
      }
    }
    table(
      [
        `${fileCount} × 64 KiB, 50 ms`,
        "sources",
        "seconds",
        "files/s",
        "× one source",
        "≈ files from each",
      ],
      modes.map((m) => {
        const one = modes.find((o) => o.path === m.path && o.n === 1)
        const ratio = one ? median(one.seconds) / median(m.seconds) : Number.NaN
        return [
          m.path === "tunnel" ? "private path (tunnels)" : "direct path (Iroh)",
          String(m.n),
          median(m.seconds).toFixed(1),
          (fileCount / median(m.seconds)).toFixed(0),
          ratio.toFixed(2),
          m.split,
        ]
      }),
    )
  }
  console.log(
    `\n${os.cpus().length} cores, Node ${process.version}, capped: ${values["cap-nodes"] === "ends" ? "fetcher and providers (route hops: delay only)" : "every node"}, ${testnet.nodes.length} testnet nodes, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  )
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
