// Memory and disk of a backup server holding many groups, under churn. Runs inside
// `veilid-testnet exec` (`pnpm --filter @save-dweb/backup-server bench`): a private testnet,
// the server as a real process, one member's backend that makes BENCH_GROUPS groups (10)
// with one file of BENCH_FILE_KB (1024) each and registers them all; then BENCH_ROUNDS (10)
// rounds in which every group's file is replaced by a new one. After each phase, once the
// server holds exactly the current files, it prints the server process's RSS, its JS heap
// (from its own `memory` log) and the size of its data directory. Asserts nothing.
import { readdir, readFile, stat } from "node:fs/promises"
import { join } from "node:path"
import type { LoadedGroup } from "@save-dweb/backend"
import { Effect, Option, Stream } from "effect"
import {
  eventually,
  holdsBlobFile,
  Net,
  NetLive,
  startMember,
  startServer,
  tempDir,
} from "../test/testnet.ts"

const envInt = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name}: a positive integer`)
  return value
}
const GROUPS = envInt("BENCH_GROUPS", 10)
const FILE_KB = envInt("BENCH_FILE_KB", 1024)
const ROUNDS = envInt("BENCH_ROUNDS", 10)

const rssMiB = (pid: number) =>
  Effect.promise(async () => {
    const status = await readFile(`/proc/${pid}/status`, "utf8")
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN)
    return kb / 1024
  })

/** Bytes on disk (allocated blocks) under `dir`, recursively. */
const diskMiB = (dir: string) =>
  Effect.promise(async () => {
    let total = 0
    const walk = async (path: string): Promise<void> => {
      for (const entry of await readdir(path, { withFileTypes: true })) {
        const full = join(path, entry.name)
        if (entry.isDirectory()) await walk(full)
        else if (entry.isFile()) total += (await stat(full)).blocks * 512
      }
    }
    await walk(dir).catch(() => undefined)
    return total / 1024 / 1024
  })

const random = (size: number) => {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i += 65_536) {
    crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65_536)))
  }
  return bytes
}

const program = Effect.gen(function* () {
  const testnet = yield* Net
  const rows: Array<Record<string, string | number>> = []
  const server = yield* startServer(testnet, yield* tempDir, {
    name: "Bench box",
    config: { memoryLogSeconds: 2, logLevel: "info" },
  })
  /** The server's own last `memory` log line (at most 2 s old). */
  const heapMiB = () => {
    const line = server.logs.findLast((l) => l.message === "memory")
    return line === undefined ? "?" : String(line.heapUsedMiB)
  }
  const started = Date.now()
  const sample = (phase: string, groups: number, since: number) =>
    Effect.gen(function* () {
      const row = {
        phase,
        groups,
        "RSS MiB": (yield* rssMiB(server.pid)).toFixed(1),
        "heap MiB": heapMiB(),
        "iroh MiB": (yield* diskMiB(join(server.dataDir, "iroh"))).toFixed(1),
        "veilid MiB": (yield* diskMiB(join(server.dataDir, "veilid"))).toFixed(1),
        "wait s": ((Date.now() - since) / 1000).toFixed(1),
      }
      rows.push(row)
      console.error(JSON.stringify(row))
    })
  yield* sample("started, no groups", 0, started)

  const member = yield* startMember(testnet, "bench-member", yield* tempDir)
  const groups: Array<{ group: LoadedGroup; hash: string; n: number }> = []
  for (let i = 0; i < GROUPS; i++) {
    const group = yield* member.backend.createGroup(`Bench ${i}`, { memberName: "M" })
    const file = yield* Option.getOrThrow(group.repo).write(
      "f0.bin",
      Stream.make(random(FILE_KB * 1024)),
    )
    groups.push({ group, hash: file.hash, n: 0 })
  }
  const registered = Date.now()
  for (const { group } of groups) {
    yield* eventually("registered", member.backend.addBackup(group.key, server.link), () => true, [
      "BackupUnreachable",
      "PeerUnreachable",
    ])
  }
  const held = (hashes: ReadonlyArray<string>, gone: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      for (const hash of hashes) {
        yield* eventually("held", holdsBlobFile(server.dataDir, hash), (h) => h)
      }
      for (const hash of gone) {
        yield* eventually("freed", holdsBlobFile(server.dataDir, hash), (h) => !h)
      }
    })
  yield* held(
    groups.map((g) => g.hash),
    [],
  )
  yield* sample(`${GROUPS} groups registered and synced`, GROUPS, registered)

  for (let round = 1; round <= ROUNDS; round++) {
    const since = Date.now()
    const previous: Array<string> = []
    for (const entry of groups) {
      const repo = Option.getOrThrow(entry.group.repo)
      const file = yield* repo.write(`f${round}.bin`, Stream.make(random(FILE_KB * 1024)))
      yield* repo.delete(`f${entry.n}.bin`)
      previous.push(entry.hash)
      entry.hash = file.hash
      entry.n = round
    }
    yield* held(
      groups.map((g) => g.hash),
      previous,
    )
    yield* sample(`round ${round}: every file replaced`, GROUPS, since)
  }
  yield* Effect.sleep("30 seconds")
  yield* sample("30 s idle", GROUPS, Date.now() - 30_000)
  // Where Veilid's bytes are (its stores grow with DHT traffic; see the README).
  const largest = yield* Effect.promise(async () => {
    const found: Array<[string, number]> = []
    const walk = async (path: string): Promise<void> => {
      for (const entry of await readdir(path, { withFileTypes: true })) {
        const full = join(path, entry.name)
        if (entry.isDirectory()) await walk(full)
        else if (entry.isFile())
          found.push([full.slice(server.dataDir.length + 1), (await stat(full)).size])
      }
    }
    await walk(join(server.dataDir, "veilid")).catch(() => undefined)
    return found.sort((x, y) => y[1] - x[1]).slice(0, 6)
  })
  console.error(JSON.stringify({ largestVeilidFiles: largest }))
  yield* server.stop

  const columns = Object.keys(rows[0] ?? {})
  const width = (c: string) => Math.max(c.length, ...rows.map((r) => String(r[c]).length))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((cell, i) => cell.padEnd(width(columns[i] ?? ""))).join(" | ")} |`
  console.log(`\nbackup server: ${GROUPS} groups, one ${FILE_KB} KiB file each, ${ROUNDS} rounds\n`)
  console.log(line(columns))
  console.log(line(columns.map((c) => "-".repeat(width(c)))))
  for (const row of rows) console.log(line(columns.map((c) => String(row[c]))))
}).pipe(Effect.scoped, Effect.provide(NetLive))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)
