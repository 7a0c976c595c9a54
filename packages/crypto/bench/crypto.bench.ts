// Throughput of streaming encryption, decryption (file formats v2 and v1) and
// BLAKE3 on BENCH_MIB MiB (default 256) fed as a Stream of 1 MiB chunks, each beside a reference
// measured in the same run, and the peak RSS of each streaming run (far below
// the data size if memory stays bounded). Prints a table; asserts nothing.
//
//   pnpm run bench            BENCH_MIB=64 pnpm run bench
import { execFileSync } from "node:child_process"
import { createCipheriv, createHash, randomFillSync } from "node:crypto"
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Stream } from "effect"
import sodiumSumo from "libsodium-wrappers-sumo"
import {
  blake3Stream,
  decryptFileStream,
  encryptedFileSize,
  encryptFileStream,
  SecretKey,
} from "../src/index.ts"

await sodiumSumo.ready

const MiB = 1024 * 1024
const totalMiB = Number(process.env.BENCH_MIB ?? 256)
const block = randomFillSync(new Uint8Array(MiB))
const key = Effect.runSync(SecretKey.generate)
const dir = mkdtempSync(join(tmpdir(), "save-dweb-crypto-bench-"))

let peakRss = 0
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
}

/** totalMiB chunks of 1 MiB, pulled one at a time. */
const plaintext = (): Stream.Stream<Uint8Array> =>
  Stream.fromIterable(
    (function* () {
      for (let i = 0; i < totalMiB; i++) yield block
    })(),
    { chunkSize: 1 },
  )

const fromFile = (path: string): Stream.Stream<Uint8Array, unknown> =>
  Stream.fromAsyncIterable(
    createReadStream(path, { highWaterMark: MiB }) as AsyncIterable<Uint8Array>,
    (error) => error,
  )

interface Measurement {
  readonly seconds: number
  readonly peakRssMiB: number
}

const measure = async (run: () => Promise<unknown> | unknown): Promise<Measurement> => {
  globalThis.gc?.()
  peakRss = process.memoryUsage.rss()
  const start = performance.now()
  await run()
  const seconds = (performance.now() - start) / 1000
  sampleRss()
  return { seconds, peakRssMiB: peakRss / MiB }
}

const drain = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.runPromise(
    Stream.runForEach(stream, () => Effect.sync(sampleRss)) as Effect.Effect<void, unknown>,
  )

const rate = (m: Measurement) => `${(totalMiB / m.seconds).toFixed(0)} MiB/s`

const command = (file: string, args: ReadonlyArray<string>): Measurement | undefined => {
  try {
    execFileSync(file, ["--version"], { stdio: "ignore" })
  } catch {
    return undefined
  }
  const start = performance.now()
  execFileSync(file, args, { stdio: "ignore" })
  return { seconds: (performance.now() - start) / 1000, peakRssMiB: Number.NaN }
}

try {
  const baselineRssMiB = process.memoryUsage.rss() / MiB
  const cipherPath = join(dir, "cipher.bin")
  const plainPath = join(dir, "plain.bin")

  // Files for the decryption run and the command-line references (not timed).
  const plainFd = openSync(plainPath, "w")
  for (let i = 0; i < totalMiB; i++) writeSync(plainFd, block)
  closeSync(plainFd)
  const v1Path = join(dir, "cipher-v1.bin")
  for (const [path, version] of [
    [cipherPath, 2],
    [v1Path, 1],
  ] as const) {
    const fd = openSync(path, "w")
    await Effect.runPromise(
      Stream.runForEach(plaintext().pipe(encryptFileStream(key, { version })), (chunk) =>
        Effect.sync(() => writeSync(fd, chunk)),
      ),
    )
    closeSync(fd)
  }

  // Warm up every path (WebAssembly tiers, V8 JIT) before timing it.
  const warm = <E>(stream: Stream.Stream<Uint8Array, E>) =>
    Effect.runPromise(Effect.ignore(Stream.runDrain(stream.pipe(Stream.take(8)))))
  await warm(plaintext().pipe(encryptFileStream(key)))
  await warm(plaintext().pipe(encryptFileStream(key, { version: 1 })))
  await warm(fromFile(cipherPath).pipe(decryptFileStream(key)))
  await warm(fromFile(v1Path).pipe(decryptFileStream(key)))
  await Effect.runPromise(blake3Stream(plaintext().pipe(Stream.take(8))))

  const encrypt = await measure(() => drain(plaintext().pipe(encryptFileStream(key))))
  const encryptV1 = await measure(() =>
    drain(plaintext().pipe(encryptFileStream(key, { version: 1 }))),
  )
  const decrypt = await measure(() => drain(fromFile(cipherPath).pipe(decryptFileStream(key))))
  const decryptV1 = await measure(() => drain(fromFile(v1Path).pipe(decryptFileStream(key))))
  const nativeIn = (callBytes: number) => () => {
    const raw = randomFillSync(new Uint8Array(32))
    const nonce = new Uint8Array(12)
    for (let i = 0; i < totalMiB; i++) {
      for (let offset = 0; offset < MiB; offset += callBytes) {
        nonce[4] = offset & 0xff
        const cipher = createCipheriv("chacha20-poly1305", raw, nonce, { authTagLength: 16 })
        cipher.update(block.subarray(offset, offset + callBytes))
        cipher.final()
        cipher.getAuthTag()
      }
    }
  }
  await measure(nativeIn(MiB))
  const native64KiB = await measure(nativeIn(64 * 1024))
  const native1MiB = await measure(nativeIn(MiB))
  const hash = await measure(() =>
    Effect.runPromise(blake3Stream(plaintext().pipe(Stream.tap(() => Effect.sync(sampleRss))))),
  )

  const xorIn = (callBytes: number) => () => {
    const nonce = new Uint8Array(24)
    const raw = sodiumSumo.crypto_stream_xchacha20_keygen()
    for (let i = 0; i < totalMiB; i++) {
      for (let offset = 0; offset < MiB; offset += callBytes) {
        nonce[0] = offset & 0xff
        sodiumSumo.crypto_stream_xchacha20_xor(
          block.subarray(offset, offset + callBytes),
          nonce,
          raw,
        )
      }
    }
  }
  await measure(xorIn(MiB))
  const xor1MiB = await measure(xorIn(MiB))
  const xor64KiB = await measure(xorIn(64 * 1024))
  const rawSecretstream = await measure(() => {
    const { state } = sodiumSumo.crypto_secretstream_xchacha20poly1305_init_push(
      sodiumSumo.crypto_secretstream_xchacha20poly1305_keygen(),
    )
    for (let i = 0; i < totalMiB; i++) {
      for (let offset = 0; offset < MiB; offset += 64 * 1024) {
        sodiumSumo.crypto_secretstream_xchacha20poly1305_push(
          state,
          block.subarray(offset, offset + 64 * 1024),
          null,
          0,
        )
      }
    }
  })
  const readOnly = await measure(() => drain(fromFile(cipherPath)))
  const sha256Node = await measure(() => {
    const h = createHash("sha256")
    for (let i = 0; i < totalMiB; i++) h.update(block)
    return h.digest()
  })
  const b3sum1 = command("b3sum", ["--num-threads", "1", plainPath])
  const b3sum = command("b3sum", [plainPath])
  const sha256sum = command("sha256sum", [plainPath])

  const row = (name: string, m: Measurement | undefined, missing = "not installed") => ({
    measured: name,
    throughput: m === undefined ? missing : rate(m),
    "peak RSS":
      m === undefined || Number.isNaN(m.peakRssMiB) ? "" : `${m.peakRssMiB.toFixed(0)} MiB`,
  })
  console.log(
    `\n${totalMiB} MiB as a Stream of 1 MiB chunks; 64 KiB records; node ${process.version}; ` +
      `ciphertext ${(encryptedFileSize(totalMiB * MiB) / MiB).toFixed(2)} MiB; ` +
      `RSS before: ${baselineRssMiB.toFixed(0)} MiB\n`,
  )
  console.table([
    row("encryptFileStream (v2)", encrypt),
    row("  ref: node:crypto chacha20-poly1305, 64 KiB calls, no Stream", native64KiB),
    row("  ref: node:crypto chacha20-poly1305, 1 MiB calls, no Stream", native1MiB),
    row("encryptFileStream, version 1", encryptV1),
    row("  ref: crypto_secretstream push, 64 KiB, no Stream", rawSecretstream),
    row("  ref: crypto_stream_xchacha20_xor, 64 KiB calls", xor64KiB),
    row("  ref: crypto_stream_xchacha20_xor, 1 MiB calls", xor1MiB),
    row("decryptFileStream, v2 (reading the file)", decrypt),
    row("decryptFileStream, v1 (reading the file)", decryptV1),
    row("  ref: reading the file as a Stream only", readOnly),
    row("blake3Stream (hash-wasm)", hash),
    row("  ref: b3sum --num-threads 1 (file)", b3sum1),
    row("  ref: b3sum, all cores (file)", b3sum),
    row("  ref: node:crypto sha256", sha256Node),
    row("  ref: sha256sum (file)", sha256sum),
  ])
} finally {
  rmSync(dir, { recursive: true, force: true })
}
