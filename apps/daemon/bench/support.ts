// What the daemon benches share: built daemons on a testnet with a typed client each, and
// a file of random bytes uploaded through one, remembered by its SHA-256.
import { createHash, randomBytes } from "node:crypto"
import type { RpcClient } from "@save-dweb/client"
import { makeClient } from "@save-dweb/client"
import type { Testnet } from "@save-dweb/veilid-testnet"
import { Effect, Exit, Scope, Stream } from "effect"
import {
  awaitReady,
  networkFlag,
  type RunningDaemon,
  spawnDaemon,
  tempDir,
} from "../test/harness.ts"

/** Starts daemons on `testnet` (data dirs named after `prefix`); `stopAll` ends them. */
export const benchDaemons = (
  testnet: Testnet,
  prefix: string,
  env: Readonly<Record<string, string>> = {},
) => {
  const scope = Effect.runSync(Scope.make())
  const daemons: Array<RunningDaemon> = []
  const start = async (node: string, extra: ReadonlyArray<string> = []) => {
    const dir = tempDir(`${prefix}-`)
    const d = await awaitReady(
      spawnDaemon(
        dir,
        ["--network", networkFlag(testnet, node, dir), "--listen", "127.0.0.1:0", ...extra],
        env,
      ),
    )
    daemons.push(d)
    const client = await Effect.runPromise(
      Scope.provide(scope)(makeClient({ baseUrl: d.state.url, token: d.token })),
    )
    return { d, client }
  }
  const stopAll = async () => {
    for (const d of daemons) {
      d.child.kill("SIGTERM")
      await d.exited
    }
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
  return { start, stopAll }
}

/** Uploads `size` random bytes (1 MiB chunks) as `name`; their SHA-256 in hex. */
export const uploadRandom = async (
  client: RpcClient,
  group: string,
  name: string,
  size: number,
) => {
  const chunk = 1024 * 1024
  const sent = createHash("sha256")
  await Effect.runPromise(
    client.files.upload(
      group,
      name,
      Stream.fromIterable(Array.from({ length: Math.ceil(size / chunk) }, (_, i) => i)).pipe(
        Stream.map((i) => {
          const b = randomBytes(Math.min(chunk, size - i * chunk))
          sent.update(b)
          return new Uint8Array(b.buffer, b.byteOffset, b.length)
        }),
      ),
    ),
  )
  return sent.digest("hex")
}
