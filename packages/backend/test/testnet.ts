// Shared by the integration tests: backends on a private Veilid testnet (run inside
// `veilid-testnet exec`), temp dirs that are removed, and deadline-bound waits.
import { mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { BlobStoreService } from "@save-dweb/blob-store"
import { eventually } from "@save-dweb/test-support"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { formatLink } from "@save-dweb/uri-scheme"
import { type Testnet, withTestnet } from "@save-dweb/veilid-testnet"
import { Context, Effect, Exit, Layer, Option, Scope } from "effect"
import {
  type BackendShape,
  type CreateGroupOptions,
  type LoadedGroup,
  makeBackend,
  makeNode,
  type UnlockedStorage,
} from "../src/index.ts"

export class Net extends Context.Service<Net, Testnet>()("@save-dweb/backend/test/Net") {}

export const NetLive = Layer.effect(Net, withTestnet())

export const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "backend-it-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
)

export interface Started {
  readonly backend: BackendShape
  readonly storageDir: string
  /** The node's own tunnels, to call a peer as this node would, from outside the backend. */
  readonly tunnels: TunnelsShape
  /** The node's own blob store, to fetch from a peer as this node could, from outside the backend. */
  readonly store: BlobStoreService
  /** Stops the backend (idempotent); also run when the test's scope closes. */
  readonly stop: Effect.Effect<void>
}

/**
 * A backend for testnet node `name` on `storageDir`, in a scope of its own (`stop`);
 * `storage` from `unlockStorage` for a data dir locked with a passphrase.
 */
export const start = (
  testnet: Testnet,
  name: string,
  storageDir: string,
  options: { readonly storage?: UnlockedStorage } = {},
) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const stop = Scope.close(scope, Exit.void)
    // A test that fails half-way still stops every node it started.
    yield* Effect.addFinalizer(() => stop)
    const node = yield* Scope.provide(scope)(
      makeNode({
        storageDir,
        network: { veilidConfig: testnet.nodeConfig(name) },
        veilid: { readyTimeout: "90 seconds" },
        iroh: { ipv4Addr: "127.0.0.1:0", ipv6Addr: "[::1]:0", fetchTimeoutMillis: 20_000 },
        ...options,
      }),
    )
    const backend: BackendShape = yield* Scope.provide(scope)(makeBackend({ storageDir, ...node }))
    const started: Started = { backend, storageDir, tunnels: node.tunnels, store: node.store, stop }
    return started
  })

/**
 * Whether the node's Iroh store holds a file for blob `hash` (Iroh keeps a blob over 16 KiB
 * as `<hash>.data`, partial or whole; a tunnel fetch writes elsewhere until it is verified).
 */
export const holdsBlobFile = (backend: Started, hash: string) =>
  Effect.map(
    Effect.promise(() => readdir(join(backend.storageDir, "iroh"), { recursive: true })),
    (files) => files.some((f) => f.endsWith(`${hash}.data`)),
  )

/** A backend for testnet node `name` on a new temp dir (removed after the test). */
export const startFresh = (testnet: Testnet, name: string) =>
  Effect.flatMap(tempDir, (dir) => start(testnet, name, dir))

export const timeout = 240_000
export { deadline, eventually, NotYet } from "@save-dweb/test-support"

export const repoNames = (repos: ReadonlyArray<{ readonly name: string }>) =>
  repos
    .map((r) => r.name)
    .sort()
    .join(",")

/** Fetch failures worth another try while routes and Iroh addresses settle. */
export const transient = ["PeerUnreachable", "NoSource", "AllSourcesFailed", "NotLocal", "PeerBusy"]

export interface Member {
  readonly node: Started
  readonly group: LoadedGroup
  readonly name: string
}

/**
 * A group made by the first of `names` (manager), joined by write link by the others,
 * each on its own testnet node; returns once every member lists every repo by name.
 */
export const groupOf = (
  testnet: Testnet,
  nodes: ReadonlyArray<string>,
  options: CreateGroupOptions = {},
) =>
  Effect.gen(function* () {
    const started = yield* Effect.forEach(nodes, (n) => startFresh(testnet, n), {
      concurrency: "unbounded",
    })
    const [first, ...rest] = started.map((node, i) => ({ node, name: `M${i}` }))
    if (first === undefined) return yield* Effect.die(new Error("no members"))
    const created = yield* first.node.backend.createGroup("Roadmap", {
      ...options,
      memberName: first.name,
    })
    const members: Array<Member> = [{ ...first, group: created }]
    for (const m of rest) {
      const link = formatLink(yield* created.group.invite("write"))
      const joined = yield* eventually(
        `${m.name} joins`,
        m.node.backend.joinGroup(link, { memberName: m.name }),
      )
      members.push({ ...m, group: joined })
    }
    const all = members.map((m) => m.name).join(",")
    for (const m of members) {
      yield* eventually(`${m.name} lists every repo`, m.group.repos, (r) => repoNames(r) === all)
    }
    return members
  })

export const repoOf = (m: Member) => Option.getOrThrow(m.group.repo)

export const slotOf = (m: Member): number => {
  const slot = m.group.group.slot
  if (slot === undefined) throw new Error(`${m.name} has no slot`)
  return slot
}
