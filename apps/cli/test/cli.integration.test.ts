// The built `save-dweb` binary against real daemons (started with `save-dweb daemon start`)
// on a private Veilid testnet: every subcommand, --json output, and the exit codes and
// messages of the common mistakes. Run inside `veilid-testnet exec` (the `test` script).
import { createHash, randomBytes } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { eventuallyAsync } from "@save-dweb/test-support"
import { tempDirRemovedAtExit } from "@save-dweb/test-support/temp-dir"
import { startTestnet, type Testnet } from "@save-dweb/veilid-testnet"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cliJson, runCli } from "./run-cli.ts"

let testnet: Testnet
const dirs: Array<string> = []
const work = tempDirRemovedAtExit("sdw-cli-")

beforeAll(async () => {
  testnet = await startTestnet({ readyTimeoutMs: 120_000 })
}, 180_000)

afterAll(async () => {
  for (const dir of dirs) await runCli(["--data-dir", dir, "daemon", "stop"])
  await testnet?.stop()
}, 120_000)

/** A daemon on its own data dir, on testnet node `node`, started by the CLI. */
const daemon = async (node: string) => {
  const dir = join(work, node)
  const config = join(work, `${node}-veilid.json`)
  writeFileSync(config, JSON.stringify(testnet.nodeConfig(node)))
  const started = await cliJson<{ started: boolean; pid: number; url: string }>([
    "--data-dir",
    dir,
    "daemon",
    "start",
    "--network",
    `config:${config}`,
    "--listen",
    "127.0.0.1:0",
    // pin/unpin are checked below: no background pass may fetch behind the test's back.
    "--sync-interval",
    "0",
  ])
  expect(started.started).toBe(true)
  dirs.push(dir)
  return (...args: Array<string>) => ["--data-dir", dir, ...args]
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

describe("the save-dweb CLI against daemons on a private testnet", () => {
  it("without a daemon: exit 3 and how to start one; bad usage: exit 2", async () => {
    const none = await runCli(["--data-dir", join(work, "nobody"), "group", "list"])
    expect(none.code).toBe(3)
    expect(none.stderr).toMatch(/no daemon is running on .*nobody.*save-dweb daemon start/)
    const usage = await runCli(["--data-dir", join(work, "nobody"), "frobnicate"])
    expect(usage.code).toBe(2)
    const stopped = await runCli(["--data-dir", join(work, "nobody"), "daemon", "stop"])
    expect(stopped.code).toBe(0)
    expect(stopped.stdout).toMatch(/no daemon was running/)
  })

  it("a daemon killed with -9 is not taken for a running one; a start that gives up stops its daemon", async () => {
    const run = await daemon("cli-crash")
    const dir = run()[1] as string
    const state = JSON.parse(readFileSync(join(dir, "daemon.json"), "utf8")) as { pid: number }
    process.kill(state.pid, "SIGKILL")
    // daemon.json is still there, naming a dead pid: the CLI asks the API, not the pid.
    const status = await runCli(run("status"))
    expect(status.code).toBe(3)
    expect(status.stderr).toMatch(/no daemon is running/)
    const stop = await runCli(run("daemon", "stop"))
    expect(stop.stdout).toMatch(/no daemon was running/)

    // A start given too little time gives up and stops the daemon it started.
    const config = join(work, "cli-crash-veilid.json")
    const gaveUp = await runCli(
      run(
        "daemon",
        "start",
        "--network",
        `config:${config}`,
        "--listen",
        "127.0.0.1:0",
        "--timeout",
        "1",
      ),
    )
    expect(gaveUp.code).toBe(3)
    expect(gaveUp.stderr).toMatch(/was not ready after 1 s and was stopped/)
    const after = await runCli(run("status"))
    expect(after.code).toBe(3)
    expect(after.stderr).toMatch(/no daemon is running/)
    // ...so a normal start works at once (nothing holds the data dir).
    const again = await cliJson<{ started: boolean }>(
      run("daemon", "start", "--network", `config:${config}`, "--listen", "127.0.0.1:0"),
    )
    expect(again.started).toBe(true)
  })

  it("groups, files, members, pin, sync, pairing and errors, from two daemons and a paired third", async () => {
    const alice = await daemon("cli-alice")
    const bob = await daemon("cli-bob")

    const status = await cliJson<{ veilid: { state: string } | null; groups: { known: number } }>(
      alice("status"),
    )
    expect(status.veilid?.state).toMatch(/Attached/)
    expect(status.groups.known).toBe(0)
    expect((await runCli(alice("daemon", "start"))).stdout).toMatch(/already running/)

    // The API's description needs the token like every route but health: the CLI sends it.
    const openapiFile = join(work, "openapi.json")
    const saved = await cliJson<{ output: string; bytes: number }>(
      alice("api", "openapi", "-o", openapiFile),
    )
    expect(saved.output).toBe(openapiFile)
    const doc = JSON.parse(readFileSync(openapiFile, "utf8")) as { paths: Record<string, unknown> }
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/health", "/v1/groups/{group}/repos/{repo}/files/{name}"]),
    )
    expect(saved.bytes).toBe(readFileSync(openapiFile).length)
    const docsPage = await runCli(alice("api", "docs"))
    expect(docsPage.code).toBe(0)
    expect(docsPage.stdout).toMatch(/^<!doctype html>[\s\S]*\/v1\/groups\/\{group\}\/sync/)
    // `ui --print`: the daemon's page and a one-time sign-in code in the URL's fragment.
    const ui = await cliJson<{ url: string; expiresAt: string }>(alice("ui", "--print"))
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#code=[\w-]{43}$/)
    expect(Date.parse(ui.expiresAt)).toBeGreaterThan(Date.now())
    const page = await fetch(new URL("/", ui.url))
    expect(page.status).toBe(200)
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'")
    const exchange = () =>
      fetch(new URL("/v1/sign-in", ui.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ code: new URL(ui.url).hash.slice("#code=".length) }),
      })
    expect((await exchange()).status).toBe(200)
    expect((await exchange()).status).toBe(401)
    const wrongToken = await runCli(alice("api", "openapi", "--token", "wrong"))
    expect(wrongToken.code).toBe(8)
    expect(wrongToken.stderr).toMatch(/Unauthorized|token/)

    const g = await cliJson<{ key: string; name: string; tier: string; transport: string }>(
      alice("group", "create", "Newsroom", "--member-name", "alice"),
    )
    expect([g.name, g.tier, g.transport]).toEqual(["Newsroom", "manage", "private"])
    const listed = await runCli(alice("group", "list"))
    expect(listed.stdout).toMatch(/Newsroom\s+manage\s+yes/)
    expect((await runCli(alice("group", "show", "Newsroom"))).stdout).toMatch(/transport\s+private/)
    const badTransport = await runCli(alice("group", "transport", "Newsroom", "pigeon"))
    expect(badTransport.code).toBe(2)

    // A file by group name; read back whole, by range, and refused over an existing file.
    const content = randomBytes(700_000)
    const input = join(work, "report.bin")
    writeFileSync(input, content)
    const added = await cliJson<{ name: string; size: number }>(
      alice("file", "add", "Newsroom", input),
    )
    expect([added.name, added.size]).toEqual(["report.bin", 700_000])
    const out = join(work, "alice-copy.bin")
    await cliJson(alice("file", "get", "Newsroom", "report.bin", "-o", out))
    expect(sha(readFileSync(out))).toBe(sha(content))
    const again = await runCli(alice("file", "get", "Newsroom", "report.bin", "-o", out))
    expect(again.code).toBe(5)
    expect(again.stderr).toMatch(/exists; use --force/)
    const part = await runCli(
      alice("file", "get", "Newsroom", "report.bin", "--range", "100-199", "-o", "-"),
    )
    expect(part.code).toBe(0)
    expect(Buffer.from(part.stdout, "latin1").length).toBeGreaterThan(0)

    // Mistakes: unknown group (4), bad link (5), bad file name (5); --json gives the tag too.
    const unknown = await runCli(alice("file", "ls", "No such group", "--json"))
    expect(unknown.code).toBe(4)
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: "UnknownGroup" })
    expect(unknown.stderr).toMatch(/hint: `save-dweb group list`/)
    const badLink = await runCli(bob("group", "join", "save+dweb:invite?v=1&cap=read"))
    expect(badLink.code).toBe(5)
    expect(badLink.stderr).toMatch(/error: /)
    // A link typed as an argument still works, with a note on keeping it out of `ps`.
    expect(badLink.stderr).toMatch(/note: .*`ps`.*`save-dweb group join -` reads it from stdin/)
    const noLink = await runCli(bob("group", "join", "-"), {}, "\n")
    expect([noLink.code, noLink.stderr]).toEqual([2, expect.stringMatching(/no link on stdin/)])
    // A record key of a crypto kind this version does not know: refused input naming it, not
    // an unexpected failure from deep in the DHT layer.
    const key = Buffer.alloc(32, 7).toString("base64url")
    const unknownKind = await runCli(
      bob("group", "join", `save+dweb:invite?v=1&cap=read&group=VLD9:${key}:${key}&secret=${key}`),
    )
    expect(unknownKind.code).toBe(5)
    expect(unknownKind.stderr).toMatch(/group: crypto kind VLD9 is not supported/)
    const badName = await runCli(alice("file", "add", "Newsroom", input, "--name", "../escape"))
    expect(badName.code).toBe(5)

    // bob joins with a write link, piped in (`-`: never on a command line), and adds a file
    // of his own; both see both.
    const { link } = await cliJson<{ link: string }>(
      alice("group", "invite", g.key, "--tier", "write"),
    )
    expect(link).toMatch(/^save\+dweb:invite\?v=1&cap=write/)
    const joined = await eventuallyAsync(() =>
      cliJson<{ tier: string }>(bob("group", "join", "-", "--member-name", "bob"), `${link}\n`),
    )
    expect(joined.tier).toBe("write")
    const bobFile = join(work, "bob.txt")
    writeFileSync(bobFile, "from bob\n")
    await cliJson(bob("file", "add", g.key, bobFile))
    const members = await eventuallyAsync(async () => {
      const ms = await cliJson<Array<{ name: string | null; mine: boolean }>>(
        alice("members", g.key),
      )
      if (ms.length < 2) throw new Error("bob not seen yet")
      return ms
    })
    expect(members.map((m) => [m.name, m.mine]).sort()).toEqual([
      ["alice", true],
      ["bob", false],
    ])
    const repos = await cliJson<Array<{ name: string; mine: boolean; key: string }>>(
      alice("repos", g.key),
    )
    expect(repos.length).toBe(2)
    const bobRepo = repos.find((r) => !r.mine)?.key as string
    const seen = await eventuallyAsync(async () => {
      const fs = await cliJson<Array<{ name: string; status: string; owner: string }>>(
        alice("file", "ls", g.key),
      )
      if (!fs.some((f) => f.name === "bob.txt")) throw new Error("not yet")
      return fs
    })
    expect(seen.find((f) => f.name === "bob.txt")).toMatchObject({ status: "remote-only" })

    // pin fetches a local copy, unpin drops it; sync reports per repo.
    await cliJson(alice("file", "pin", g.key, "bob.txt"))
    const pinned = await cliJson<Array<{ name: string; status: string }>>(
      alice("file", "ls", g.key, "--repo", bobRepo),
    )
    expect(pinned).toEqual([expect.objectContaining({ name: "bob.txt", status: "local" })])
    await cliJson(alice("file", "unpin", g.key, "bob.txt", "--repo", bobRepo))
    const unpinned = await cliJson<Array<{ status: string }>>(
      alice("file", "ls", g.key, "--repo", bobRepo),
    )
    expect(unpinned[0]?.status).toBe("remote-only")
    const synced = await cliJson<Array<{ group: string; failed: Array<unknown> }>>(
      bob("sync", g.key),
    )
    expect(synced).toEqual([expect.objectContaining({ group: g.key, failed: [] })])
    const fromBob = join(work, "bob-has-report.bin")
    await cliJson(bob("file", "get", g.key, "report.bin", "-o", fromBob))
    expect(sha(readFileSync(fromBob))).toBe(sha(content))

    // bob deletes his file; alice's listing drops it.
    await cliJson(bob("file", "rm", g.key, "bob.txt"))
    await eventuallyAsync(async () => {
      const fs = await cliJson<Array<{ name: string }>>(alice("file", "ls", g.key))
      if (fs.some((f) => f.name === "bob.txt")) throw new Error("still listed")
    })

    // Pairing: bob's membership moves to a new device, which then writes as bob.
    const pairing = await cliJson<{ link: string }>(bob("pair", "make", g.key))
    expect(pairing.link).toMatch(/^save\+dweb:pair\?/)
    const tablet = await daemon("cli-tablet")
    const paired = await cliJson<{ groups: Array<{ key: string; tier: string }> }>(
      tablet("pair", "use", "-"),
      pairing.link,
    )
    expect(paired.groups.map((x) => [x.key, x.tier])).toEqual([[g.key, "write"]])
    const tabletFile = join(work, "tablet.txt")
    writeFileSync(tabletFile, "from bob's tablet\n")
    await cliJson(tablet("file", "add", g.key, tabletFile))
    await eventuallyAsync(async () => {
      const fs = await cliJson<Array<{ name: string; owner: string }>>(alice("file", "ls", g.key))
      if (!fs.some((f) => f.name === "tablet.txt" && f.owner === "bob")) throw new Error("not yet")
    })

    // leave: the group is gone from bob's list.
    await cliJson(bob("group", "leave", g.key))
    expect(await cliJson<Array<unknown>>(bob("group", "list"))).toEqual([])

    for (const who of [alice, bob, tablet]) {
      const stopped = await cliJson<{ stopped: boolean }>(who("daemon", "stop"))
      expect(stopped.stopped).toBe(true)
    }
  }, 600_000)

  it("members remove: the manager removes a member, the group gets a new key; renames; transport", async () => {
    const manager = await daemon("cli-rm-a")
    const kept = await daemon("cli-rm-b")
    const gone = await daemon("cli-rm-c")
    const g = await cliJson<{ key: string; transport: string }>(
      manager("group", "create", "Desk", "--member-name", "alice", "--transport", "direct"),
    )
    expect(g.transport).toBe("direct")
    for (const [who, name] of [
      [kept, "bob"],
      [gone, "carol"],
    ] as const) {
      const { link } = await cliJson<{ link: string }>(manager("group", "invite", g.key))
      await eventuallyAsync(() => cliJson(who("group", "join", link, "--member-name", name)))
    }
    const before = await eventuallyAsync(async () => {
      const ms = await cliJson<Array<{ slot: number; name: string | null }>>(
        manager("members", "Desk"),
      )
      if (ms.length < 3) throw new Error("not every member seen yet")
      return ms
    })
    const carol = before.find((m) => m.name === "carol")?.slot as number
    // Only the manager removes: Bob is refused as not allowed (5).
    const refused = await runCli(kept("members", "remove", g.key, String(carol)))
    expect(refused.code).toBe(5)
    const removed = await cliJson<{ previous: string; group: string }>(
      manager("members", "remove", "Desk", String(carol)),
    )
    expect(removed.previous).toBe(g.key)
    expect(removed.group).not.toBe(g.key)
    const human = await runCli(manager("members", "Desk"))
    expect(human.stdout).toMatch(/alice/)
    expect(human.stdout).not.toMatch(/carol/)
    // Bob's daemon follows by itself; Carol's knows only the old key.
    await eventuallyAsync(async () => {
      const gs = await cliJson<Array<{ key: string }>>(kept("group", "list"))
      if (gs[0]?.key !== removed.group) throw new Error("not followed yet")
    })
    expect(
      (await cliJson<Array<{ key: string }>>(gone("group", "list"))).map((x) => x.key),
    ).toEqual([g.key])
    const renamed = await runCli(manager("group", "rename", removed.group, "Newsdesk"))
    expect(renamed.code).toBe(0)
    expect(renamed.stdout).toMatch(/"Newsdesk"/)
    // Bob's daemon keeps the name it read when it loaded the group: the key finds it.
    await cliJson(kept("members", "rename", removed.group, "1", "robert"))
    const after = await eventuallyAsync(async () => {
      const ms = await cliJson<Array<{ name: string | null }>>(manager("members", removed.group))
      if (!ms.some((m) => m.name === "robert")) throw new Error("not renamed yet")
      return ms
    })
    expect(after.map((m) => m.name)).toEqual(["alice", "robert"])
    const notMine = await runCli(kept("members", "rename", removed.group, "0", "boss"))
    expect(notMine.code).toBe(5)

    // The rotated group kept its transport; only the manager changes it, and Bob sees it.
    expect(
      (await cliJson<{ transport: string }>(kept("group", "show", removed.group))).transport,
    ).toBe("direct")
    const notManager = await runCli(kept("group", "transport", removed.group, "private"))
    expect(notManager.code).toBe(5)
    const madePrivate = await runCli(manager("group", "transport", "Newsdesk", "private"))
    expect(madePrivate.code).toBe(0)
    expect(madePrivate.stdout).toMatch(/is now private/)
    await eventuallyAsync(async () => {
      const shown = await cliJson<{ transport: string }>(kept("group", "show", removed.group))
      if (shown.transport !== "private") throw new Error("not seen yet")
    })
  }, 600_000)
})
