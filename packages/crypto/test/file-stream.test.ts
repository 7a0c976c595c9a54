import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Redacted, Stream } from "effect"
import fc from "fast-check"
import {
  DEFAULT_CHUNK_SIZE,
  DecryptError,
  decryptedFileSize,
  decryptFile,
  decryptFileStream,
  encryptedFileSize,
  encryptFile,
  encryptFileStream,
  InvalidEnvelope,
  MAX_CHUNK_SIZE,
  SecretKey,
} from "../src/index.ts"
import { freeSecretstreamState, sodium } from "../src/sodium.ts"
import { bytes, concat, cuts, equalBytes, secretKey, splitAt } from "./arbitraries.ts"

const HEADER = 33

const chunkSize = fc.integer({ min: 1, max: 64 })

// Every property below holds for both formats: v1 (libsodium secretstream) and v2 (native).
for (const version of [1, 2] as const) {
  const RECORD_OVERHEAD = version === 1 ? 21 : 20

  const encrypt = (key: SecretKey, plaintext: Uint8Array, size: number, pieces: Array<number>) =>
    Effect.runSync(
      Stream.fromIterable(splitAt(plaintext, pieces)).pipe(
        encryptFileStream(key, { chunkSize: size, version }),
        Stream.runCollect,
        Effect.map(concat),
      ),
    )

  /** Decrypts, keeping what was emitted before a failure. */
  const decryptPartially = (key: SecretKey, ciphertext: Uint8Array, pieces: Array<number> = []) => {
    const emitted: Array<Uint8Array> = []
    const exit = Effect.runSyncExit(
      Stream.fromIterable(splitAt(ciphertext, pieces)).pipe(
        decryptFileStream(key),
        Stream.runForEach((chunk) => Effect.sync(() => emitted.push(chunk))),
      ),
    )
    return { exit, emitted: concat(emitted) }
  }

  const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
    if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
    const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
    if (error === undefined || error._tag !== "Fail") throw new Error("expected a typed failure")
    return error.error
  }

  const isPrefixOf = (prefix: Uint8Array, whole: Uint8Array) =>
    prefix.length <= whole.length && equalBytes(prefix, whole.subarray(0, prefix.length))

  /** Record boundaries of a file written with `size`-byte chunks. */
  const records = (ciphertext: Uint8Array, size: number): Array<Uint8Array> => {
    const out: Array<Uint8Array> = []
    for (let offset = HEADER; offset < ciphertext.length; offset += size + RECORD_OVERHEAD) {
      out.push(
        ciphertext.subarray(offset, Math.min(offset + size + RECORD_OVERHEAD, ciphertext.length)),
      )
    }
    return out
  }

  describe(`encrypted file streams, format v${version}`, () => {
    it("round-trip any plaintext under any chunk size and any input chunking", () => {
      fc.assert(
        fc.property(
          secretKey,
          bytes(1500),
          chunkSize,
          cuts,
          cuts,
          (key, plaintext, size, encryptCuts, decryptCuts) => {
            const ciphertext = encrypt(key, plaintext, size, encryptCuts)
            assert.strictEqual(
              ciphertext.length,
              encryptedFileSize(plaintext.length, size, version),
            )
            const { exit, emitted } = decryptPartially(key, ciphertext, decryptCuts)
            assert.isTrue(Exit.isSuccess(exit))
            assert.isTrue(equalBytes(emitted, plaintext))
          },
        ),
      )
    })

    it("decrypts ciphertext read into one buffer that every pull overwrites", () => {
      fc.assert(
        fc.property(
          secretKey,
          bytes(1500),
          chunkSize,
          fc.integer({ min: 1, max: 300 }),
          (key, plaintext, size, piece) => {
            const ciphertext = encrypt(key, plaintext, size, [])
            // As blob-store's `read(…, { into })` does: each pull reads over the last one.
            const into = new Uint8Array(piece)
            const reads = Stream.unfold(0, (at) =>
              Effect.sync(() => {
                if (at >= ciphertext.length) {
                  into.fill(0xa5)
                  return undefined
                }
                const n = Math.min(piece, ciphertext.length - at)
                into.fill(0xa5)
                into.set(ciphertext.subarray(at, at + n))
                return [into.subarray(0, n), at + n] as const
              }),
            )
            const emitted = Effect.runSync(
              reads.pipe(decryptFileStream(key), Stream.runCollect, Effect.map(concat)),
            )
            assert.isTrue(equalBytes(emitted, plaintext))
          },
        ),
      )
    })

    it("round-trip sizes on and around chunk boundaries", () => {
      fc.assert(
        fc.property(
          secretKey,
          chunkSize,
          fc.integer({ min: 0, max: 5 }),
          fc.integer({ min: -1, max: 1 }),
          cuts,
          (key, size, chunks, delta, pieces) => {
            const length = Math.max(0, chunks * size + delta)
            const plaintext = Uint8Array.from({ length }, (_, i) => i % 253)
            const ciphertext = encrypt(key, plaintext, size, pieces)
            const { exit, emitted } = decryptPartially(key, ciphertext, pieces)
            assert.isTrue(Exit.isSuccess(exit))
            assert.isTrue(equalBytes(emitted, plaintext))
          },
        ),
      )
    })

    it.effect(
      "writes the same bytes from memory as from a stream, with 64 KiB chunks by default",
      () =>
        Effect.gen(function* () {
          const key = yield* SecretKey.generate
          const plaintext = Uint8Array.from(
            { length: 3 * DEFAULT_CHUNK_SIZE + 5 },
            (_, i) => i & 0xff,
          )
          const ciphertext = yield* encryptFile(key, plaintext, { version })
          assert.strictEqual(
            ciphertext.length,
            encryptedFileSize(plaintext.length, DEFAULT_CHUNK_SIZE, version),
          )
          assert.strictEqual(ciphertext.length, HEADER + plaintext.length + 4 * RECORD_OVERHEAD)
          assert.isTrue(equalBytes(yield* decryptFile(key, ciphertext), plaintext))
        }),
    )

    it("fails on any flipped bit, emitting only a verified prefix of the plaintext", () => {
      fc.assert(
        fc.property(
          secretKey,
          bytes(600),
          chunkSize,
          fc.nat(),
          fc.integer({ min: 0, max: 7 }),
          cuts,
          (key, plaintext, size, position, bit, pieces) => {
            const ciphertext = encrypt(key, plaintext, size, [])
            const index = position % ciphertext.length
            ciphertext[index] = (ciphertext[index] as number) ^ (1 << bit)
            const { exit, emitted } = decryptPartially(key, ciphertext, pieces)
            const error = failureOf(exit)
            assert.isTrue(error instanceof InvalidEnvelope || error instanceof DecryptError)
            assert.isTrue(isPrefixOf(emitted, plaintext))
            // Nothing from the damaged record (or after it) comes out.
            const damagedRecord =
              index < HEADER ? 0 : Math.floor((index - HEADER) / (size + RECORD_OVERHEAD))
            assert.isAtMost(emitted.length, damagedRecord * size)
          },
        ),
      )
    })

    it("fails on any truncation, emitting only a verified prefix", () => {
      fc.assert(
        fc.property(
          secretKey,
          bytes(600),
          chunkSize,
          fc.nat(),
          cuts,
          (key, plaintext, size, cut, pieces) => {
            const ciphertext = encrypt(key, plaintext, size, [])
            const truncated = ciphertext.subarray(0, cut % ciphertext.length)
            const { exit, emitted } = decryptPartially(key, truncated, pieces)
            const error = failureOf(exit)
            if (truncated.length < HEADER)
              assert.deepInclude(error, { _tag: "InvalidEnvelope", reason: "TooShort" })
            else assert.deepInclude(error, { _tag: "DecryptError", reason: "Truncated" })
            assert.isTrue(isPrefixOf(emitted, plaintext))
          },
        ),
      )
    })

    it("fails when records are swapped, dropped or repeated", () => {
      fc.assert(
        fc.property(
          secretKey,
          chunkSize,
          fc.integer({ min: 2, max: 8 }),
          fc.nat(),
          fc.nat(),
          fc.constantFrom("swap", "drop", "repeat"),
          (key, size, count, i, j, change) => {
            const plaintext = Uint8Array.from({ length: count * size + 1 }, (_, k) => k % 249)
            const ciphertext = encrypt(key, plaintext, size, [])
            const parts = records(ciphertext, size)
            const a = i % parts.length
            const b = j % parts.length
            fc.pre(change !== "swap" || a !== b)
            const changed = [...parts]
            if (change === "swap")
              [changed[a], changed[b]] = [parts[b] as Uint8Array, parts[a] as Uint8Array]
            else if (change === "drop") changed.splice(a, 1)
            else changed.splice(a, 0, parts[a] as Uint8Array)
            const { exit, emitted } = decryptPartially(
              key,
              concat([ciphertext.subarray(0, HEADER), ...changed]),
            )
            const error = failureOf(exit)
            assert.strictEqual(error._tag, "DecryptError")
            assert.include(
              ["WrongKeyOrTampered", "TamperedOrReordered", "Truncated", "TrailingData"],
              error.reason,
            )
            assert.isTrue(isPrefixOf(emitted, plaintext))
          },
        ),
      )
    })

    it("reports a moved record after the first as reordered", () => {
      const key = Effect.runSync(SecretKey.generate)
      const plaintext = new Uint8Array(40)
      const ciphertext = encrypt(key, plaintext, 10, [])
      const [r0, r1, r2, r3, r4] = records(ciphertext, 10) as [
        Uint8Array,
        Uint8Array,
        Uint8Array,
        Uint8Array,
        Uint8Array,
      ]
      const { exit, emitted } = decryptPartially(
        key,
        concat([ciphertext.subarray(0, HEADER), r0, r2, r1, r3, r4]),
      )
      assert.deepInclude(failureOf(exit), {
        _tag: "DecryptError",
        reason: "TamperedOrReordered",
        chunk: 1,
      })
      // At most the first record's plaintext: verified output in the same pull as a failure is dropped.
      assert.isAtMost(emitted.length, 10)
    })

    it("emits nothing under a wrong key", () => {
      fc.assert(
        fc.property(secretKey, secretKey, bytes(300), chunkSize, (key, other, plaintext, size) => {
          fc.pre(!SecretKey.equals(key, other))
          const { exit, emitted } = decryptPartially(other, encrypt(key, plaintext, size, []))
          assert.deepInclude(failureOf(exit), {
            _tag: "DecryptError",
            reason: "WrongKeyOrTampered",
            chunk: 0,
          })
          assert.strictEqual(emitted.length, 0)
        }),
      )
    })

    it("rejects bytes after the final record", () => {
      fc.assert(
        fc.property(
          secretKey,
          bytes(300),
          chunkSize,
          fc.uint8Array({ minLength: 1, maxLength: 100 }),
          cuts,
          (key, plaintext, size, extra, pieces) => {
            const ciphertext = concat([encrypt(key, plaintext, size, []), extra])
            const { exit } = decryptPartially(key, ciphertext, pieces)
            assert.deepInclude(failureOf(exit), { _tag: "DecryptError", reason: "TrailingData" })
          },
        ),
      )
    })

    it.effect("binds the associated data to every record", () =>
      Effect.gen(function* () {
        const key = yield* SecretKey.generate
        const plaintext = new Uint8Array(100)
        const associatedData = Uint8Array.of(1, 2, 3)
        const ciphertext = yield* encryptFile(key, plaintext, {
          chunkSize: 16,
          associatedData,
          version,
        })
        assert.isTrue(
          equalBytes(yield* decryptFile(key, ciphertext, { associatedData }), plaintext),
        )
        const error = yield* Effect.flip(
          decryptFile(key, ciphertext, { associatedData: Uint8Array.of(1, 2) }),
        )
        assert.deepInclude(error, { _tag: "DecryptError", reason: "WrongKeyOrTampered" })
        assert.deepInclude(yield* Effect.flip(decryptFile(key, ciphertext)), {
          _tag: "DecryptError",
        })
      }),
    )

    it.effect("rejects foreign headers, unknown versions and chunk sizes out of range", () =>
      Effect.gen(function* () {
        const key = yield* SecretKey.generate
        const ciphertext = yield* encryptFile(key, new Uint8Array(10), { version })
        const decrypt = (bytes: Uint8Array) => Effect.flip(decryptFile(key, bytes))
        const patched = (index: number, value: number) => {
          const copy = ciphertext.slice()
          copy[index] = value
          return copy
        }
        assert.deepInclude(yield* decrypt(patched(0, 0x00)), {
          _tag: "InvalidEnvelope",
          reason: "BadMagic",
        })
        assert.deepInclude(yield* decrypt(patched(0, 0x00).subarray(0, 2)), { reason: "BadMagic" })
        assert.deepInclude(yield* decrypt(patched(4, 9)), {
          reason: "UnsupportedVersion",
          format: "FileStream",
        })
        const zero = ciphertext.slice()
        zero.set([0, 0, 0, 0], 5)
        assert.deepInclude(yield* decrypt(zero), { reason: "BadChunkSize" })
        const huge = ciphertext.slice()
        new DataView(huge.buffer).setUint32(5, MAX_CHUNK_SIZE + 1)
        assert.deepInclude(yield* decrypt(huge), { reason: "BadChunkSize" })
        // A smaller chunk size in the header is authenticated: it does not decrypt.
        const smaller = ciphertext.slice()
        new DataView(smaller.buffer).setUint32(5, 1024)
        assert.deepInclude(yield* decrypt(smaller), { _tag: "DecryptError" })
        assert.deepInclude(yield* decrypt(new Uint8Array(0)), { reason: "TooShort" })
        assert.deepInclude(yield* decrypt(ciphertext.subarray(0, HEADER)), {
          _tag: "DecryptError",
          reason: "Truncated",
        })
      }),
    )

    it.effect("starts a fresh secretstream each time the stream runs", () =>
      Effect.gen(function* () {
        const key = yield* SecretKey.generate
        const encrypted = Stream.make(new Uint8Array(50)).pipe(
          encryptFileStream(key, { chunkSize: 8, version }),
        )
        const first = concat(yield* Stream.runCollect(encrypted))
        const second = concat(yield* Stream.runCollect(encrypted))
        assert.isFalse(equalBytes(first, second))
        assert.isTrue(equalBytes(yield* decryptFile(key, first), yield* decryptFile(key, second)))
      }),
    )

    it.effect("frees its libsodium state however the stream ends", () =>
      Effect.gen(function* () {
        const key = yield* SecretKey.generate
        const probe = () => {
          const { state } = sodium.crypto_secretstream_xchacha20poly1305_init_push(
            Redacted.value(key),
          )
          freeSecretstreamState(state)
          return state
        }
        const before = probe()
        const ciphertext = yield* encryptFile(key, new Uint8Array(100), { chunkSize: 16, version })
        for (let i = 0; i < 50; i++) {
          yield* decryptFile(key, ciphertext)
          yield* Effect.flip(decryptFile(key, ciphertext.subarray(0, 60)))
          yield* Stream.make(ciphertext).pipe(
            decryptFileStream(key),
            Stream.take(1),
            Stream.runDrain,
          )
          yield* Stream.make(new Uint8Array(100)).pipe(
            encryptFileStream(key, { version }),
            Stream.take(1),
            Stream.runDrain,
          )
        }
        // Leaked states would push the next allocation elsewhere on the WebAssembly heap.
        assert.deepStrictEqual(probe(), before)
      }),
    )

    it.effect("emits at most about 1 MiB per pull, even from one large input chunk", () =>
      Effect.gen(function* () {
        const key = yield* SecretKey.generate
        const plaintext = new Uint8Array(3 * 1024 * 1024 + 7)
        let largest = 0
        const measure = (chunks: ReadonlyArray<Uint8Array>) =>
          Effect.sync(() => {
            largest = Math.max(
              largest,
              chunks.reduce((n, c) => n + c.length, 0),
            )
          })
        const ciphertext = yield* encryptFile(key, plaintext, { version })
        yield* Stream.make(plaintext).pipe(encryptFileStream(key), Stream.runForEachArray(measure))
        yield* Stream.make(ciphertext).pipe(decryptFileStream(key), Stream.runForEachArray(measure))
        assert.isAtMost(largest, 1024 * 1024 + DEFAULT_CHUNK_SIZE + RECORD_OVERHEAD)
      }),
    )

    it("computes sizes both ways", () => {
      fc.assert(
        fc.property(
          fc.nat({ max: 2 ** 40 }),
          fc.integer({ min: 1, max: MAX_CHUNK_SIZE }),
          (size, chunk) => {
            const encrypted = encryptedFileSize(size, chunk, version)
            assert.deepStrictEqual(decryptedFileSize(encrypted, chunk, version), Option.some(size))
          },
        ),
      )
      const plainSize = (n: number) => decryptedFileSize(n, DEFAULT_CHUNK_SIZE, version)
      assert.isTrue(Option.isNone(plainSize(HEADER + RECORD_OVERHEAD - 1)))
      assert.isTrue(Option.isNone(plainSize(HEADER + DEFAULT_CHUNK_SIZE + RECORD_OVERHEAD)))
      assert.deepStrictEqual(plainSize(HEADER + RECORD_OVERHEAD), Option.some(0))
      assert.throws(() => encryptedFileSize(1, 0), RangeError)
    })
  })
}

describe("encrypted file format versions", () => {
  it.effect("writes v2 by default and reads v1 and v2 without being told which", () =>
    Effect.gen(function* () {
      const key = yield* SecretKey.generate
      const plaintext = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7) & 0xff)
      const v2 = yield* encryptFile(key, plaintext)
      assert.strictEqual(v2[4], 2)
      const v1 = yield* encryptFile(key, plaintext, { version: 1 })
      assert.strictEqual(v1[4], 1)
      assert.isTrue(equalBytes(yield* decryptFile(key, v1), plaintext))
      assert.isTrue(equalBytes(yield* decryptFile(key, v2), plaintext))
    }),
  )

  it.effect("does not read a v2 file relabelled v1, nor the reverse", () =>
    Effect.gen(function* () {
      const key = yield* SecretKey.generate
      for (const [from, to] of [
        [1, 2],
        [2, 1],
      ] as const) {
        const relabelled = (yield* encryptFile(key, new Uint8Array(100), { version: from })).slice()
        relabelled[4] = to
        assert.deepInclude(yield* Effect.flip(decryptFile(key, relabelled)), {
          _tag: "DecryptError",
          reason: "WrongKeyOrTampered",
        })
      }
    }),
  )

  it("refuses to write an unknown version", () => {
    const key = Effect.runSync(SecretKey.generate)
    assert.throws(
      () =>
        encryptFileStream(key, { version: 3 as 2 })(Stream.empty).pipe(
          Stream.runDrain,
          Effect.runSync,
        ),
      RangeError,
    )
  })
})
