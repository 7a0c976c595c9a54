// The README's main job: two real daemons (alice's and bob's), each with its own Veilid
// node on a private testnet and its own Iroh store, driven through the `save-dweb` CLI as
// a person would. alice creates a group and adds a file; bob joins by link and downloads
// it; the bytes are compared. Every step prints the commands it ran and what came back.
import { spawn } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { basename, dirname, join } from "node:path"
import { pipeline } from "node:stream/promises"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Data, Effect } from "effect"
import type { FileSource } from "./file-source.ts"
import { redactLinkText } from "./redact.ts"

export const daemonStepIds = [
  "testnet",
  "daemons",
  "group",
  "file",
  "invite",
  "join",
  "list",
  "download",
  "verify",
  "shutdown",
] as const
export type DaemonStepId = (typeof daemonStepIds)[number]

export interface DaemonStep {
  readonly id: DaemonStepId
  readonly title: string
  readonly lines: ReadonlyArray<string>
  readonly tookMs: number
}

export class DaemonDemoFailed extends Data.TaggedError("DaemonDemoFailed")<{
  readonly step: DaemonStepId
  readonly message: string
}> {}

export interface DaemonDemoOptions {
  readonly file: FileSource
  readonly report: (step: DaemonStep) => void
  readonly groupName?: string
  /** Seconds a daemon may take to attach and listen. */
  readonly readySeconds?: number
}

/** The built `save-dweb` CLI (its package's bin script). */
export const cliScript = (): string => {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve("@save-dweb/cli/package.json")), "bin", "save-dweb.mjs")
}

interface Ran {
  readonly line: string
  readonly stdout: string
  readonly stderr: string
  readonly code: number
}

/** Runs the CLI with `args`, collecting its output. */
const cli = (args: ReadonlyArray<string>) =>
  Effect.callback<Ran>((resume) => {
    const child = spawn(process.execPath, [cliScript(), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d
    })
    child.once("close", (code) =>
      resume(
        Effect.succeed({
          line: `$ save-dweb ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")}`,
          stdout,
          stderr,
          code: code ?? 1,
        }),
      ),
    )
  })

const sha256 = (path: string) =>
  Effect.promise(async () => {
    const hash = createHash("sha256")
    await pipeline(createReadStream(path), hash)
    return hash.digest("hex")
  })

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

/** Writes the demo's input file: the given one is used as it is. */
const prepareFile = (source: FileSource, dir: string) =>
  Effect.promise(async () => {
    if (source._tag === "Path") return source.path
    const path = join(dir, `field-report-${source.bytes}.bin`)
    const out = createWriteStream(path)
    let left = source.bytes
    while (left > 0) {
      const n = Math.min(left, 1024 * 1024)
      if (!out.write(randomBytes(n))) await new Promise<void>((r) => out.once("drain", () => r()))
      left -= n
    }
    await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())))
    return path
  })

export const runDaemonDemo = (options: DaemonDemoOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const work = mkdtempSync(join(tmpdir(), "save-dweb-demo-"))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => rmSync(work, { recursive: true, force: true })),
      )
      const groupName = options.groupName ?? "Field reports"
      const readySeconds = options.readySeconds ?? 300
      const started = performance.now()
      const step = <A, R>(
        id: DaemonStepId,
        title: string,
        body: (lines: Array<string>) => Effect.Effect<A, DaemonDemoFailed, R>,
      ) =>
        Effect.gen(function* () {
          const lines: Array<string> = []
          const t = performance.now()
          const result = yield* body(lines)
          options.report({ id, title, lines, tookMs: performance.now() - t })
          return result
        })
      /** Runs the CLI; a non-zero exit fails the step with the CLI's own error text. */
      const run = (id: DaemonStepId, lines: Array<string>, args: ReadonlyArray<string>) =>
        Effect.gen(function* () {
          const ran = yield* cli(args)
          // Links carry the group's key: never printed whole.
          lines.push(redactLinkText(ran.line))
          if (ran.code !== 0)
            return yield* new DaemonDemoFailed({
              step: id,
              message: `\`${ran.line.slice(2)}\` exited ${ran.code}: ${ran.stderr.trim() || ran.stdout.trim()}`,
            })
          return ran.stdout
        })
      const json = <A>(text: string) => JSON.parse(text) as A

      const testnet = yield* step(
        "testnet",
        "a private Veilid testnet of 8 nodes starts",
        (lines) =>
          Effect.gen(function* () {
            const net = yield* withTestnet({ readyTimeoutMs: readySeconds * 1000 }).pipe(
              Effect.mapError((e) => new DaemonDemoFailed({ step: "testnet", message: String(e) })),
            )
            lines.push(
              `${net.nodes.length} nodes ready in ${(net.readyAfterMs / 1000).toFixed(1)} s, in a network namespace with no route out`,
            )
            return net
          }),
      )

      const people = ["alice", "bob"] as const
      const dirs = { alice: join(work, "alice"), bob: join(work, "bob") }
      const as = (who: (typeof people)[number], ...args: Array<string>) => [
        "--data-dir",
        dirs[who],
        ...args,
      ]

      yield* step(
        "daemons",
        "alice's and bob's daemons start, each a process with its own Veilid node and Iroh store",
        (lines) =>
          Effect.forEach(
            people,
            (who) =>
              Effect.gen(function* () {
                const config = join(work, `${who}-veilid.json`)
                writeFileSync(config, JSON.stringify(testnet.nodeConfig(who)))
                const out = yield* run("daemons", lines, [
                  ...as(who, "--json", "daemon", "start"),
                  "--network",
                  `config:${config}`,
                  "--listen",
                  "127.0.0.1:0",
                  // No background replication: bob's download below is the fetch itself.
                  "--sync-interval",
                  "0",
                  "--timeout",
                  String(readySeconds),
                ])
                const started = json<{ pid: number; url: string }>(out)
                lines.push(`  ${who}: pid ${started.pid}, API at ${started.url}`)
                yield* Effect.addFinalizer(() => Effect.ignore(cli(as(who, "daemon", "stop"))))
              }),
            { discard: true },
          ),
      )

      const group = yield* step("group", `alice creates the group "${groupName}"`, (lines) =>
        Effect.gen(function* () {
          const g = json<{ key: string; repo: string }>(
            yield* run(
              "group",
              lines,
              as("alice", "--json", "group", "create", groupName, "--member-name", "alice"),
            ),
          )
          lines.push(`  group record ${g.key}`, `  alice's repo ${g.repo}`)
          return g
        }),
      )

      const input = yield* prepareFile(options.file, work)
      const name = basename(input)
      const added = yield* step(
        "file",
        `alice adds ${name}: encrypted into her store, its root published`,
        (lines) =>
          Effect.gen(function* () {
            const info = json<{ size: number; hash: string; storedSize: number }>(
              yield* run("file", lines, as("alice", "--json", "file", "add", group.key, input)),
            )
            lines.push(
              `  ${mib(info.size)} plaintext, ${mib(info.storedSize)} stored; blob hash ${info.hash}`,
            )
            return info
          }),
      )

      const link = yield* step("invite", "alice makes a read invite link for bob", (lines) =>
        Effect.gen(function* () {
          const r = json<{ link: string }>(
            yield* run(
              "invite",
              lines,
              as("alice", "--json", "group", "invite", group.key, "--tier", "read"),
            ),
          )
          lines.push(`  ${redactLinkText(r.link)}`)
          return r.link
        }),
      )

      yield* step("join", "bob joins from the link", (lines) =>
        Effect.gen(function* () {
          const j = json<{ name: string; tier: string }>(
            yield* run(
              "join",
              lines,
              as("bob", "--json", "group", "join", link, "--member-name", "bob"),
            ),
          )
          lines.push(`  bob is in "${j.name}" with the ${j.tier} tier`)
        }),
      )

      yield* step(
        "list",
        "bob lists the group's files (read from alice's repo record and manifest)",
        (lines) =>
          Effect.gen(function* () {
            const files = json<
              Array<{ name: string; size: number; status: string; owner: string }>
            >(yield* run("list", lines, as("bob", "--json", "file", "ls", group.key)))
            for (const f of files)
              lines.push(`  ${f.name}  ${mib(f.size)}  ${f.status}  from ${f.owner}`)
            if (!files.some((f) => f.name === name))
              return yield* new DaemonDemoFailed({
                step: "list",
                message: `bob does not see ${name}`,
              })
          }),
      )

      const output = join(work, `bob-${name}`)
      yield* step(
        "download",
        "bob downloads it: fetched from alice's node, verified, decrypted",
        (lines) =>
          Effect.gen(function* () {
            const t = performance.now()
            yield* run(
              "download",
              lines,
              as("bob", "--json", "file", "get", group.key, name, "-o", output),
            )
            const seconds = (performance.now() - t) / 1000
            lines.push(
              `  ${mib(added.size)} in ${seconds.toFixed(2)} s (${(added.size / 1024 / 1024 / seconds).toFixed(1)} MiB/s, CLI start-up included)`,
            )
          }),
      )

      yield* step("verify", "the bytes bob got are alice's", (lines) =>
        Effect.gen(function* () {
          const [a, b] = [yield* sha256(input), yield* sha256(output)]
          lines.push(`  sha256 alice ${a}`, `  sha256 bob   ${b}`)
          if (a !== b)
            return yield* new DaemonDemoFailed({
              step: "verify",
              message: "the downloaded bytes differ",
            })
        }),
      )

      yield* step(
        "shutdown",
        "both daemons stop gracefully (routes removed from the DHT), the testnet stops",
        (lines) =>
          Effect.forEach(
            people,
            (who) => Effect.map(run("shutdown", lines, as(who, "daemon", "stop")), () => undefined),
            {
              discard: true,
            },
          ),
      )
      return { totalMillis: performance.now() - started, bytes: added.size }
    }),
  )
