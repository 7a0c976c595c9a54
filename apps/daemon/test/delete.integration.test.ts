// Delete means gone, through the built daemons on a private testnet: the files one member
// downloaded and pinned leave its disk once the owner deletes them and the member syncs,
// even when the member was killed with -9 in between (its pins and sync state live in its
// table store, and a fetched pin is flushed before it is used).
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { makeClient, type RpcClient } from "@save-dweb/client"
import { eventuallyAsync, pattern } from "@save-dweb/test-support"
import { startTestnet, type Testnet } from "@save-dweb/veilid-testnet"
import { Effect, Exit, Scope, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { awaitReady, networkFlag, type SpawnedDaemon, spawnDaemon, tempDir } from "./harness.ts"

let testnet: Testnet
const scope = Effect.runSync(Scope.make())
const spawned: Array<SpawnedDaemon> = []

beforeAll(async () => {
  testnet = await startTestnet({ readyTimeoutMs: 120_000 })
}, 180_000)

afterAll(async () => {
  for (const d of spawned) if (d.child.exitCode === null) d.child.kill("SIGKILL")
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await testnet?.stop()
}, 60_000)

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** Starts a daemon on `node` (the same identity on every start of `dataDir`) with a client. */
const start = async (dataDir: string, node: string, extra: ReadonlyArray<string> = []) => {
  const args = ["--network", networkFlag(testnet, node, dataDir), "--listen", "127.0.0.1:0"]
  const spawnedDaemon = spawnDaemon(dataDir, [...args, ...extra])
  spawned.push(spawnedDaemon)
  const d = await awaitReady(spawnedDaemon, 180_000)
  const client: RpcClient = await run(
    Scope.provide(scope)(makeClient({ baseUrl: d.state.url, token: d.token })),
  )
  return { d, client }
}

const kill9 = async (d: SpawnedDaemon) => {
  d.child.kill("SIGKILL")
  await d.exited
}

/** Hashes of the blobs whose bytes are in Iroh's store files (`<hash>.data`). */
const blobFilesOf = (dataDir: string): Set<string> => {
  const found = new Set<string>()
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith(".data")) found.add(entry.name.slice(0, -".data".length))
    }
  }
  walk(join(dataDir, "backend", "iroh"))
  return found
}

const download = (client: RpcClient, group: string, repo: string, name: string) =>
  run(
    Effect.scoped(
      Effect.flatMap(client.files.download(group, repo, name), (d) =>
        Stream.runFold(
          d.bytes,
          () => 0,
          (n, b) => n + b.length,
        ),
      ),
    ),
  )

describe("delete means gone, across daemons", () => {
  it("files B downloaded and pinned are gone from B's disk after A deletes them and B, killed with -9 meanwhile, syncs", async () => {
    const dirA = tempDir()
    const dirB = tempDir()
    const a = await start(dirA, "delete-daemon-a")
    const g = await run(a.client.groups.create({ name: "Gone", memberName: "alice" }))
    const upload = (name: string, size: number, seed: number) =>
      run(a.client.files.upload(g.key, name, Stream.make(pattern(size, seed))))
    const downloaded = await upload("downloaded.bin", 300_000, 1)
    const pinned = await upload("pinned.bin", 250_000, 2)
    const stays = await upload("stays.bin", 200_000, 3)
    const link = await run(a.client.groups.invite(g.key, "read"))

    // No background sync: only B's explicit syncs may free anything.
    const argsB = ["--sync-interval", "0"]
    const b = await start(dirB, "delete-daemon-b", argsB)
    await eventuallyAsync(() => run(b.client.groups.join({ link })))
    const repo = g.repo as string
    expect(
      await eventuallyAsync(() => download(b.client, g.key, repo, "downloaded.bin"), 120_000),
    ).toBe(300_000)
    await eventuallyAsync(() => run(b.client.files.pin(g.key, repo, "pinned.bin")), 120_000)
    expect(blobFilesOf(dirB)).toEqual(new Set([downloaded.hash, pinned.hash]))
    // Right after the fetches: what B holds must have reached its disk, tagged.
    await kill9(b.d)

    await run(a.client.files.delete(g.key, "downloaded.bin"))
    await run(a.client.files.delete(g.key, "pinned.bin"))
    expect(blobFilesOf(dirA)).toEqual(new Set([stays.hash]))

    const back = await start(dirB, "delete-daemon-b", argsB)
    // Not swept at start: the pins are tracked, and dropped once a sync sees the deletes.
    expect(blobFilesOf(dirB)).toEqual(new Set([downloaded.hash, pinned.hash]))
    await eventuallyAsync(async () => {
      const report = await run(back.client.groups.sync(g.key))
      const left = blobFilesOf(dirB)
      if (left.has(downloaded.hash) || left.has(pinned.hash)) {
        throw new Error(
          `still on B's disk after ${JSON.stringify(report)}; B's log:\n${back.d.stderr().slice(-6000)}`,
        )
      }
    }, 120_000)
    const listed = await run(back.client.files.list(g.key, repo))
    expect(listed.map((f) => [f.name, f.status])).toEqual([["stays.bin", "local"]])
    expect(blobFilesOf(dirB)).toEqual(new Set([stays.hash]))

    await kill9(back.d)
    await kill9(a.d)
  }, 600_000)
})
