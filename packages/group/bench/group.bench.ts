// How a group's costs grow with its member count, on a private Veilid testnet: three
// nodes of ours. The creator's node makes the group and hands out a write link per
// member; a members' node joins them all (many member identities on one node, but each
// join writes its own slot subkey of the one real group record); a reader node, new to
// the group, lists the members and then watches them while one member renames itself.
// Run inside `veilid-testnet exec` (the `bench` script does). BENCH_SIZES=10,50,250 sets
// the group sizes (the creator counts: N members = the creator + N - 1 joins);
// BENCH_CHANGES=8 the renames timed per size.
import { makeDhtRecords } from "@save-dweb/dht-records"
import { formatLink } from "@save-dweb/uri-scheme"
import { decodeConfig, makeVeilid, type VeilidShape } from "@save-dweb/veilid"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Queue, Schedule, type Scope, Stream } from "effect"
import {
  type Group,
  type GroupsShape,
  MAX_MEMBERS,
  type Membership,
  makeGroups,
} from "../src/index.ts"

const sizes = (process.env.BENCH_SIZES ?? "10,50,250")
  .split(",")
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n >= 2 && n <= MAX_MEMBERS)
const changes = Math.max(1, Number(process.env.BENCH_CHANGES ?? 8))

const quantile = (samples: ReadonlyArray<number>, q: number) => {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
}

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = performance.now()
    const value = yield* effect
    return [value, performance.now() - start] as const
  })

/**
 * A value written on one node reaches another node's view a few round trips later: a join
 * right after the invite may not find the record yet. Retries count in the timing.
 */
const settled = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.retry({
      schedule: Schedule.spaced("200 millis"),
      times: 50,
      while: (e: E) => e._tag === "RecordNotFound" || e._tag === "RecordTimeout",
    }),
  )

interface Row {
  readonly members: number
  readonly invite: ReadonlyArray<number>
  readonly join: ReadonlyArray<number>
  readonly fill: number
  readonly listFresh: number
  readonly listAgain: number
  readonly watch: ReadonlyArray<number>
}

const ms = (n: number) => (n < 10 ? n.toFixed(2) : n < 1000 ? n.toFixed(1) : n.toFixed(0))
const spread = (samples: ReadonlyArray<number>) =>
  `${ms(quantile(samples, 0.5))} / ${ms(quantile(samples, 0.95))}`

const printTable = (rows: ReadonlyArray<Row>) => {
  const header = [
    "members",
    "invite (ms, med / p95)",
    "join (ms, med / p95)",
    "fill (s)",
    "list, fresh reader (ms)",
    "list again (ms)",
    "rename → watcher (ms, med / p95)",
  ]
  const lines = rows.map((r) => [
    String(r.members),
    spread(r.invite),
    spread(r.join),
    (r.fill / 1000).toFixed(1),
    ms(r.listFresh),
    ms(r.listAgain),
    spread(r.watch),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)))
  const format = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`
  console.log(format(header))
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`)
  for (const line of lines) console.log(format(line))
}

const printGrowth = (rows: ReadonlyArray<Row>) => {
  for (const r of rows) {
    console.log(
      `${r.members} members: fill ${ms(r.fill / (r.members - 1))} ms per join, fresh list ${ms(r.listFresh / r.members)} ms per member, list again ${ms(r.listAgain / r.members)} ms per member`,
    )
  }
  const first = rows[0]
  const last = rows[rows.length - 1]
  if (first !== undefined && last !== undefined && first !== last) {
    const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`
    console.log(
      `${first.members} → ${last.members} members (${ratio(last.members, first.members)}): join median ${ratio(quantile(last.join, 0.5), quantile(first.join, 0.5))}, fresh list ${ratio(last.listFresh, first.listFresh)}, list again ${ratio(last.listAgain, first.listAgain)}, rename → watcher median ${ratio(quantile(last.watch, 0.5), quantile(first.watch, 0.5))}`,
    )
  }
}

/** The next membership from `queue` that `where` accepts. */
const until = (queue: Queue.Queue<Membership>, where: (m: Membership) => boolean) =>
  Effect.gen(function* () {
    while (true) {
      const m = yield* Queue.take(queue)
      if (where(m)) return m
    }
  }).pipe(Effect.timeout("60 seconds"))

const renamed = (slot: number, name: string) => (m: Membership) =>
  m.changes.some((c) => c._tag === "Updated" && c.member.slot === slot && c.member.name === name)

const runSize = (
  size: number,
  people: {
    readonly creator: GroupsShape
    readonly members: GroupsShape
    readonly reader: GroupsShape
  },
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const group = yield* people.creator.create(`Bench ${size}`, { memberName: "Creator" })
      const invite: Array<number> = []
      const join: Array<number> = []
      const joined: Array<Group> = []
      const fillStart = performance.now()
      for (let i = 1; i < size; i++) {
        const [link, inviteMs] = yield* timed(group.invite("write"))
        invite.push(inviteMs)
        const [member, joinMs] = yield* timed(
          settled(people.members.join(formatLink(link), { memberName: `Member ${i}` })),
        )
        join.push(joinMs)
        joined.push(member)
      }
      const fill = performance.now() - fillStart

      const replicate = formatLink(yield* group.invite("replicate"))
      const watcher = yield* settled(people.reader.join(replicate))
      const [listed, listFresh] = yield* timed(watcher.members)
      if (listed.length !== size) {
        return yield* Effect.die(new Error(`the reader listed ${listed.length} of ${size} members`))
      }
      const [, listAgain] = yield* timed(watcher.members)

      // A member on the members' node renames itself; the reader node's watch sees it.
      const events = yield* Queue.unbounded<Membership>()
      yield* watcher.watchMembers().pipe(
        Stream.runForEach((m) => Queue.offer(events, m)),
        Effect.forkScoped,
      )
      yield* until(events, () => true)
      const mover = joined[0] as Group
      const settle = "Member 1 (settle)"
      yield* mover.setMyName(settle)
      yield* until(events, renamed(mover.slot as number, settle))
      const watch: Array<number> = []
      for (let k = 0; k < changes; k++) {
        // Storage nodes send change notifications on a 1 s tick of their own: a random
        // pause keeps the write from landing at a fixed phase of it.
        yield* Effect.sleep(Math.random() * 1000)
        const name = `Member 1 (${k})`
        const [, latency] = yield* timed(
          Effect.andThen(mover.setMyName(name), until(events, renamed(mover.slot as number, name))),
        )
        watch.push(latency)
      }
      const row: Row = { members: size, invite, join, fill, listFresh, listAgain, watch }
      console.log(
        `  ${size}: fill ${(fill / 1000).toFixed(1)} s, fresh list ${ms(listFresh)} ms, rename → watcher ${spread(watch)} ms`,
      )
      return row
    }),
  )

const program = Effect.gen(function* () {
  const testnet = yield* withTestnet()
  const node = (name: string): Effect.Effect<VeilidShape, unknown, Scope.Scope> =>
    Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
      makeVeilid(config, { readyTimeout: "90 seconds" }),
    )
  const [vc, vm, vr] = yield* Effect.all([node("creator"), node("members"), node("reader")], {
    concurrency: 3,
  })
  const people = {
    creator: makeGroups(yield* makeDhtRecords(vc)),
    members: makeGroups(yield* makeDhtRecords(vm)),
    reader: makeGroups(yield* makeDhtRecords(vr)),
  }
  console.log(
    `veilid testnet: 8 nodes + 3 of ours (creator, members, reader); sizes ${sizes.join(", ")}; ${changes} renames per size; joins one after another\n`,
  )
  const rows: Array<Row> = []
  for (const size of sizes) rows.push(yield* runSize(size, people))
  console.log("")
  printTable(rows)
  console.log("")
  printGrowth(rows)
})

Effect.runPromise(Effect.scoped(program)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
