// Throughput of a group's two transports on a private Veilid testnet with real Iroh
// stores, in one run:
//   pnpm --filter @save-dweb/backend bench [-- --mib 64]
// For each transport (`private`: Veilid private routes only; `direct`: Iroh QUIC too), a
// reader with no sources given reads (fetch + decrypt) a file held by 1 member (its
// writer) and one held by 3 members (the writer and two who synced it). Prints a table;
// asserts nothing about time.
import { parseArgs } from "node:util"
import type { Transport } from "@save-dweb/group"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Option, Schedule, Stream } from "effect"
import type { LoadedGroup } from "../src/index.ts"
import { start, tempDir } from "../test/testnet.ts"

const { values } = parseArgs({
  // `pnpm run bench -- --mib 64` passes the `--` along.
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: { mib: { type: "string", default: "64" } },
})
const size = Number(values.mib) * 1024 * 1024
const block = new Uint8Array(1024 * 1024).map((_, i) => (i * 31 + 7) & 0xff)

/** `n` bytes in 1 MiB chunks, each chunk's first bytes marked with `seed` (distinct files). */
const content = (n: number, seed: number) =>
  Stream.fromIterable(
    Array.from({ length: Math.ceil(n / block.length) }, (_, i) => {
      const chunk = block.slice(0, Math.min(block.length, n - i * block.length))
      chunk[0] = seed
      chunk[1] = i & 0xff
      return chunk
    }),
  )

const seconds = (from: number) => (Date.now() - from) / 1000

/** Retries `effect` until it succeeds, for a deadline (routes settle after start). */
const settled = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.retry({ times: 60, schedule: Schedule.spaced("2 seconds") }),
    Effect.tapError((e) => Effect.sync(() => console.error(`${what}:`, e))),
  )

interface Row {
  readonly transport: Transport
  readonly holders: number
  readonly mib: number
  readonly seconds: number
}

const program = Effect.gen(function* () {
  const began = Date.now()
  const testnet = yield* withTestnet()
  const names = ["w", "h1", "h2", "r"]
  const [writer, holder1, holder2, reader] = yield* Effect.forEach(
    names,
    (n) => Effect.flatMap(tempDir, (dir) => start(testnet, `bench-${n}`, dir)),
    { concurrency: "unbounded" },
  )
  if (
    writer === undefined ||
    holder1 === undefined ||
    holder2 === undefined ||
    reader === undefined
  ) {
    return yield* Effect.die(new Error("nodes"))
  }
  console.log(`testnet and ${names.length} backends ready in ${seconds(began).toFixed(1)} s`)

  const rows: Array<Row> = []
  for (const transport of ["private", "direct"] as const) {
    const created = yield* writer.backend.createGroup(`Bench ${transport}`, {
      memberName: "W",
      sourcePolicy: "any",
      transport,
    })
    const join = (node: typeof reader, name: string) =>
      Effect.flatMap(writer.backend.invite(created.key, "write"), (link) =>
        settled(`${name} joins`, node.backend.joinGroup(link, { memberName: name })),
      )
    const holders: Array<LoadedGroup> = [yield* join(holder1, "H1"), yield* join(holder2, "H2")]
    const read = yield* join(reader, "R")
    const mine = Option.getOrThrow(created.repo)

    // Held by three: the writer's file, synced by both holders first.
    yield* mine.write("three.bin", content(size, 3))
    for (const h of holders) {
      yield* settled(
        "a holder syncs",
        Effect.filterOrFail(
          h.sync(),
          (r) => r.synced.has(mine.key) && !r.failed.has(mine.key),
          () => new Error("not synced yet"),
        ),
      )
    }
    // Held by one: only the writer has it.
    yield* mine.write("one.bin", content(size, 1))

    const theirs = yield* read.openRepo(mine.key)
    for (const [name, count] of [
      ["one.bin", 1],
      ["three.bin", 3],
    ] as const) {
      const from = Date.now()
      const got = yield* settled(
        `read ${name}`,
        Stream.runFold(
          theirs.read(name),
          () => 0,
          (n, chunk) => n + chunk.length,
        ),
      )
      if (got !== size) return yield* Effect.die(new Error(`${name}: read ${got} bytes`))
      const row = { transport, holders: count, mib: size / 2 ** 20, seconds: seconds(from) }
      rows.push(row)
      console.log(
        `${transport.padEnd(8)} ${count} source(s) ${row.mib} MiB ${row.seconds.toFixed(2)} s ${(row.mib / row.seconds).toFixed(2)} MiB/s`,
      )
    }
  }

  console.log("\n| transport | sources | MiB | seconds | MiB/s |")
  console.log("|---|---:|---:|---:|---:|")
  for (const row of rows) {
    console.log(
      `| ${row.transport} | ${row.holders} | ${row.mib} | ${row.seconds.toFixed(2)} | ${(row.mib / row.seconds).toFixed(2)} |`,
    )
  }
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
