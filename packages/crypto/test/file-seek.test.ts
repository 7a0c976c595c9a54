// Reading an encrypted file from the record that holds a byte (format v2), instead of from
// its start: same bytes as a whole read, and the same refusals of moved or damaged records.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import fc from "fast-check"
import {
  type decryptFile,
  decryptFileStream,
  encryptFile,
  FILE_HEADER_BYTES,
  type FileLayout,
  InvalidEnvelope,
  readFileLayout,
  recordOffset,
  recordOfOffset,
} from "../src/index.ts"
import { concat, equalBytes, secretKey } from "./arbitraries.ts"

const layoutOf = (file: Uint8Array): FileLayout => {
  const layout = readFileLayout(file.subarray(0, FILE_HEADER_BYTES))
  if (layout instanceof InvalidEnvelope) throw new Error(layout.message)
  return layout
}

/** The plaintext from `offset` on, decrypted from the record that holds it. */
const readFrom = (key: Parameters<typeof decryptFile>[0], file: Uint8Array, offset: number) => {
  const layout = layoutOf(file)
  const first = recordOfOffset(layout, offset)
  const input = [file.subarray(0, FILE_HEADER_BYTES), file.subarray(recordOffset(layout, first))]
  return Effect.runSyncExit(
    Stream.fromIterable(input).pipe(
      decryptFileStream(key, { firstRecord: first }),
      Stream.runCollect,
      Effect.map((chunks) => concat(chunks).subarray(offset - first * layout.chunkSize)),
    ),
  )
}

describe("reading a v2 file from the middle", () => {
  it("gives the bytes a whole read gives from any offset, for any chunk size", () => {
    fc.assert(
      fc.property(
        secretKey,
        fc.uint8Array({ maxLength: 600 }),
        fc.integer({ min: 1, max: 64 }),
        fc.nat(),
        (key, plaintext, chunkSize, pick) => {
          const file = Effect.runSync(encryptFile(key, plaintext, { chunkSize }))
          const offset = plaintext.length === 0 ? 0 : pick % plaintext.length
          const exit = readFrom(key, file, offset)
          assert.isTrue(Exit.isSuccess(exit))
          if (Exit.isSuccess(exit)) {
            assert.isTrue(equalBytes(exit.value, plaintext.subarray(offset)))
          }
        },
      ),
    )
  })

  it("refuses records given under another index: a seek cannot be fooled into other bytes", () => {
    fc.assert(
      fc.property(
        secretKey,
        fc.uint8Array({ minLength: 200, maxLength: 600 }),
        (key, plaintext) => {
          const file = Effect.runSync(encryptFile(key, plaintext, { chunkSize: 32 }))
          const layout = layoutOf(file)
          // Records from index 3 on, but claimed to start at index 2.
          const input = [
            file.subarray(0, FILE_HEADER_BYTES),
            file.subarray(recordOffset(layout, 3)),
          ]
          const exit = Effect.runSyncExit(
            Stream.fromIterable(input).pipe(
              decryptFileStream(key, { firstRecord: 2 }),
              Stream.runCollect,
            ),
          )
          assert.isTrue(Exit.isFailure(exit))
        },
      ),
    )
  })

  it("a v1 file read from a later record is NotSeekable; from record 0 it reads", () => {
    const key = fc.sample(secretKey, 1)[0] as Parameters<typeof decryptFile>[0]
    const plaintext = new Uint8Array(300).map((_, i) => i)
    const file = Effect.runSync(encryptFile(key, plaintext, { chunkSize: 32, version: 1 }))
    const failed = readFrom(key, file, 100)
    assert.isTrue(Exit.isFailure(failed))
    if (Exit.isFailure(failed)) {
      const reason = failed.cause.reasons.find((r) => r._tag === "Fail")
      assert.strictEqual(
        reason?._tag === "Fail" ? (reason.error as InvalidEnvelope).reason : undefined,
        "NotSeekable",
      )
    }
    const whole = readFrom(key, file, 10)
    assert.isTrue(Exit.isSuccess(whole))
  })

  it("reads the layout from a header, and refuses what is not one", () => {
    const key = fc.sample(secretKey, 1)[0] as Parameters<typeof decryptFile>[0]
    const file = Effect.runSync(encryptFile(key, new Uint8Array(10), { chunkSize: 1000 }))
    assert.deepStrictEqual(layoutOf(file), { version: 2, chunkSize: 1000, recordBytes: 1020 })
    assert.strictEqual(recordOffset(layoutOf(file), 2), FILE_HEADER_BYTES + 2040)
    const short = readFileLayout(file.subarray(0, 10))
    assert.strictEqual(short instanceof InvalidEnvelope ? short.reason : undefined, "TooShort")
    const foreign = readFileLayout(new Uint8Array(FILE_HEADER_BYTES))
    assert.strictEqual(foreign instanceof InvalidEnvelope ? foreign.reason : undefined, "BadMagic")
  })
})
