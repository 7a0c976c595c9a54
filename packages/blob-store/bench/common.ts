import { createCipheriv, createHash, randomFillSync } from "node:crypto"
import * as fs from "node:fs/promises"
import { Effect, ManagedRuntime } from "effect"
import { BlobStore, type BlobStoreService, layer } from "../src/index.ts"

/** A store on loopback only, offline: what every bench process runs. */
export const openStore = async (dir: string) => {
  const runtime = ManagedRuntime.make(
    layer({ dir, ipv4Addr: "127.0.0.1:0", ipv6Addr: "[::1]:0", fetchTimeoutMillis: 30_000 }),
  )
  const store: BlobStoreService = await runtime.runPromise(
    Effect.gen(function* () {
      return yield* BlobStore
    }),
  )
  const run = <A, E>(effect: Effect.Effect<A, E>) => runtime.runPromise(effect)
  return { store, run, close: () => runtime.dispose() }
}

export const MiB = 1024 * 1024

/** One JSON object per line on stdout. */
export const reply = (value: unknown) => {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

export const peakRssMiB = () => Math.round(process.resourceUsage().maxRSS / 1024)

/** Random bytes written to a file 1 MiB at a time, so memory stays small. */
export const randomFile = async (file: string, size: number) => {
  const handle = await fs.open(file, "w")
  const buf = Buffer.alloc(Math.min(size, MiB))
  for (let done = 0; done < size; done += buf.length) {
    randomFillSync(buf)
    await handle.write(buf, 0, Math.min(buf.length, size - done))
  }
  await handle.close()
}

/** Bytes that depend only on `seed` (an AES-CTR key stream), so providers can hold the same blob. */
export const seededFile = async (file: string, size: number, seed: string) => {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16)
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16))
  const handle = await fs.open(file, "w")
  const zeros = Buffer.alloc(Math.min(size, MiB))
  for (let done = 0; done < size; done += zeros.length) {
    const n = Math.min(zeros.length, size - done)
    await handle.write(cipher.update(zeros.subarray(0, n)))
  }
  await handle.close()
}
