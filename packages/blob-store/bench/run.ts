// Benchmark: blob-store fetch vs plain @number0/iroh download, between
// processes on this machine (offline, loopback). Prints a table; asserts
// nothing. Sizes in MiB via BENCH_SIZES (default "256,1024").
import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { createInterface } from "node:readline"
import type { BlobHash, FetchRequest, Source } from "../src/index.ts"

const here = import.meta.dirname
// Workspace packages (tunnels) resolve to their sources, without a build.
const nodeArgs = ["--conditions=@save-dweb/source"]
const MiB = 1024 * 1024
const sizes = (process.env.BENCH_SIZES ?? "256,1024").split(",").map(Number)
const collectionFiles = Number(process.env.BENCH_FILES ?? 1000)
const base = await fs.mkdtemp(path.join(os.tmpdir(), "blob-store-bench-"))

interface Provider {
  readonly source: Source
  readonly call: <A>(command: object) => Promise<A>
}

const startProvider = async (name: string): Promise<Provider> => {
  const dir = path.join(base, name)
  await fs.mkdir(dir)
  const proc = spawn(process.execPath, [...nodeArgs, path.join(here, "provider.ts"), dir], {
    stdio: ["pipe", "pipe", "inherit"],
  })
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]()
  const next = async <A>() => JSON.parse((await lines.next()).value as string) as A
  const { source } = await next<{ source: Source }>()
  return {
    source,
    call: async <A>(command: object) => {
      proc.stdin.write(`${JSON.stringify(command)}\n`)
      return next<A>()
    },
  }
}

interface Measure {
  readonly ms: number
  readonly bytes: number
  readonly peakRssMiB: number
  readonly readMs?: number
  readonly rangeMs?: number
  readonly readAtMs?: number
  readonly sources?: ReadonlyArray<{ blobs: number; MiB: number }>
}

let runs = 0
const measure = async (
  mode: "store" | "plain",
  request: FetchRequest,
  read = false,
): Promise<Measure> => {
  const dir = path.join(base, `fetch-${++runs}`)
  await fs.mkdir(dir)
  const proc = spawn(
    process.execPath,
    [...nodeArgs, path.join(here, "fetcher.ts"), JSON.stringify({ mode, dir, request, read })],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  )
  let out = ""
  proc.stdout.on("data", (d) => {
    out += d
  })
  await new Promise((resolve) => proc.on("exit", resolve))
  await fs.rm(dir, { recursive: true, force: true })
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as Measure
}

const reps = Number(process.env.BENCH_REPS ?? 3)
const rate = (m: Measure) => m.bytes / MiB / (m.ms / 1000)
const median = (xs: ReadonlyArray<number>) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

/** Alternates the two modes `reps` times; median rate, highest peak RSS. */
const compare = async (request: FetchRequest, read: boolean) => {
  const plain: Array<Measure> = []
  const store: Array<Measure> = []
  for (let i = 0; i < reps; i++) {
    plain.push(await measure("plain", request, read && i === 0))
    store.push(await measure("store", request, read && i === 0))
  }
  const summary = (ms: ReadonlyArray<Measure>) => ({
    rate: median(ms.map(rate)),
    rss: Math.max(...ms.map((m) => m.peakRssMiB)),
    first: ms[0] as Measure,
  })
  return { plain: summary(plain), store: summary(store) }
}
const rows: Array<Array<string>> = []
const row = (...cells: Array<string | number>) => rows.push(cells.map(String))
const f1 = (n: number) => n.toFixed(1)

try {
  const [p1, p2, p3] = await Promise.all([
    startProvider("p1"),
    startProvider("p2"),
    startProvider("p3"),
  ])
  if (!p1 || !p2 || !p3) throw new Error("providers did not start")
  for (const size of sizes) {
    const { hash } = await p1.call<{ hash: BlobHash }>({ cmd: "addRandom", size: size * MiB })
    const request: FetchRequest = { hash, kind: "blob", sources: [p1.source] }
    const read = size === sizes[0]
    const { plain: p, store: s } = await compare(request, read)
    row(`blob ${size} MiB`, f1(p.rate), f1(s.rate), (s.rate / p.rate).toFixed(2), p.rss, s.rss)
    const store = s.first
    const plain = p.first
    if (
      read &&
      store.readMs !== undefined &&
      store.rangeMs !== undefined &&
      plain.readAtMs !== undefined
    ) {
      row(`read ${size} MiB (stream, data file)`, "", f1(size / (store.readMs / 1000)), "", "", "")
      row("read 64 KiB range (avg of 100)", "", `${store.rangeMs.toFixed(2)} ms`, "", "", "")
      row("readAtToBytes 8 MiB (number[])", f1(8 / (plain.readAtMs / 1000)), "", "", "", "")
    }
    await p1.call({ cmd: "delete", hash })
  }

  const { hash: root } = await p1.call<{ hash: BlobHash }>({
    cmd: "addCollection",
    count: collectionFiles,
    size: 64 * 1024,
  })
  await Promise.all([
    p2.call({ cmd: "fetch", request: { hash: root, kind: "collection", sources: [p1.source] } }),
    p3.call({ cmd: "fetch", request: { hash: root, kind: "collection", sources: [p1.source] } }),
  ])
  const one: FetchRequest = { hash: root, kind: "collection", sources: [p1.source] }
  const three: FetchRequest = {
    hash: root,
    kind: "collection",
    sources: [p1.source, p2.source, p3.source],
  }
  const { plain, store: single } = await compare(one, false)
  const multis: Array<Measure> = []
  for (let i = 0; i < reps; i++) multis.push(await measure("store", three))
  const multi = median(multis.map(rate))
  const label = `${collectionFiles} × 64 KiB`
  row(
    `${label}, 1 source`,
    f1(plain.rate),
    f1(single.rate),
    (single.rate / plain.rate).toFixed(2),
    plain.rss,
    single.rss,
  )
  row(
    `${label}, 3 sources`,
    "",
    f1(multi),
    (multi / plain.rate).toFixed(2),
    "",
    Math.max(...multis.map((m) => m.peakRssMiB)),
  )
  row(
    "  blobs per source (3 sources)",
    "",
    (multis[0]?.sources ?? []).map((s) => s.blobs).join(" / "),
    "",
    "",
    "",
  )
  for (const p of [p1, p2, p3]) await p.call({ cmd: "exit" })

  const header = [
    "case",
    "plain iroh MiB/s",
    "blob-store MiB/s",
    "ratio",
    "plain peak RSS MiB",
    "store peak RSS MiB",
  ]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`
  console.log(line(header))
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`)
  for (const r of rows) console.log(line(r))
  console.log(
    `\n${os.cpus().length} cores, Node ${process.version}; each fetch in a fresh process (start-up not timed); median of ${reps}.`,
  )
} finally {
  await fs.rm(base, { recursive: true, force: true })
}
