// One process per data dir: the lock is the OS's (the native addon's open-file-description
// lock), so a second process is refused naming the first, and the kernel frees it when the
// holder is killed with -9; no stale file can keep a data dir "in use".
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Option } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { DATA_DIR_LOCK_FILE, dataDirHolder } from "../src/data-dir-lock.ts"

const child = join(import.meta.dirname, "fixtures", "lock-child.ts")
const children: Array<ChildProcess> = []

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
})

interface Outcome {
  readonly locked: boolean
  readonly holder: number | undefined
  readonly message: string
}

/** Starts a process that takes the lock on `dir`; resolves with what it printed. */
const locker = (dir: string) => {
  const proc = spawn(process.execPath, ["--conditions=@save-dweb/source", child, dir], {
    stdio: ["ignore", "pipe", "inherit"],
  })
  children.push(proc)
  const exited = new Promise<number | null>((resolve) => proc.once("exit", resolve))
  const outcome = new Promise<Outcome>((resolve, reject) => {
    let out = ""
    proc.stdout.on("data", (d) => {
      out += d
      const line = out.split("\n").find((l) => l.startsWith("{"))
      if (line !== undefined) resolve(JSON.parse(line) as Outcome)
    })
    proc.once("exit", (code) => reject(new Error(`lock child exited ${code} before answering`)))
  })
  return { proc, exited, outcome }
}

const holderOf = (dir: string) => Effect.runPromise(dataDirHolder(dir))

describe("the data dir lock", () => {
  it("refuses a second process naming the first, and is free again once the first is killed with -9", async () => {
    const dir = mkdtempSync(join(tmpdir(), "backend-lock-"))
    expect(Option.isNone(await holderOf(dir))).toBe(true)

    const first = locker(dir)
    expect((await first.outcome).locked).toBe(true)
    const held = await holderOf(dir)
    expect(Option.map(held, (owner) => [owner?.pid, owner?.program])).toEqual(
      Option.some([first.proc.pid, "lock-test"]),
    )

    const second = locker(dir)
    const refused = await second.outcome
    expect(refused).toMatchObject({ locked: false, holder: first.proc.pid })
    expect(refused.message).toContain(`lock-test (pid ${first.proc.pid}`)
    expect(await second.exited).toBe(0)

    first.proc.kill("SIGKILL")
    await first.exited
    // The file and its text stay; the lock went with the process.
    expect(readFileSync(join(dir, DATA_DIR_LOCK_FILE), "utf8")).toContain(`${first.proc.pid}`)
    expect(Option.isNone(await holderOf(dir))).toBe(true)
    const third = locker(dir)
    expect((await third.outcome).locked).toBe(true)
    expect(Option.map(await holderOf(dir), (owner) => owner?.pid)).toEqual(
      Option.some(third.proc.pid),
    )
    third.proc.kill("SIGKILL")
    await third.exited
  }, 60_000)
})
