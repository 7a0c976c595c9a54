import { assert, describe, it } from "@effect/vitest"
import type { Peer } from "@save-dweb/tunnels"
import { Effect, Result, Stream } from "effect"
import fc from "fast-check"
import { type BatchEvents, type LandBytes, tunnelBatch } from "../src/batch-fetch.ts"
import type { BlobHash } from "../src/hash.ts"
import {
  type BlobResponse,
  decodeRequest,
  encodeResponse,
  MAX_BATCH_BLOB_BYTES,
  MAX_BATCH_BYTES,
} from "../src/tunnel-protocol.ts"
import { tunnelSource } from "../src/tunnel-source.ts"
import { cut } from "./cut.ts"

const hashOf = (i: number) => i.toString(16).padStart(64, "0") as BlobHash

/** A peer whose every call answers these chunks; it keeps the requests it was sent. */
const scripted = (chunks: ReadonlyArray<Uint8Array>) => {
  const requests: Array<Uint8Array> = []
  const peer: Peer = {
    routeId: "scripted",
    request: () => Effect.succeed(Buffer.concat(chunks)),
    open: <E, R>(_protocol: string, input: Stream.Stream<Uint8Array, E, R>) =>
      Stream.unwrap(
        Effect.map(Stream.mkUint8Array(input).pipe(Effect.orDie), (request) => {
          requests.push(request)
          return Stream.fromIterable(chunks)
        }),
      ),
  }
  return { source: tunnelSource(peer, { id: "s" }), requests }
}

type Answer =
  | { readonly _tag: "Found"; readonly bytes: Uint8Array }
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "TooLarge"; readonly size: number }

const wire = (hash: BlobHash, answer: Answer): Uint8Array => {
  switch (answer._tag) {
    case "Found": {
      const size = answer.bytes.length
      return Buffer.concat([
        encodeResponse({ _tag: "Found", size, offset: 0, length: size }),
        answer.bytes,
      ])
    }
    case "NotFound":
      return encodeResponse({ _tag: "NotFound", hash })
    case "TooLarge":
      return encodeResponse({ _tag: "TooLarge", hash, size: answer.size })
  }
}

/** Runs a batch for `count` hashes against `chunks`; what landed, and the outcome. */
const run = (
  count: number,
  chunks: ReadonlyArray<Uint8Array>,
  wanted: (hash: BlobHash) => boolean = () => true,
) => {
  const landed = new Map<BlobHash, Uint8Array>()
  const sizes = new Map<BlobHash, number>()
  const land: LandBytes = (hash, _source, bytes, _onProgress, expectedSize) =>
    Effect.map(Stream.mkUint8Array(bytes), (all) => {
      assert.strictEqual(all.length, expectedSize)
      landed.set(hash, all)
    })
  const events: BatchEvents = {
    onProgress: (hash, _done, total) => {
      if (total !== undefined) sizes.set(hash, total)
    },
    wanted,
    landed: () => Effect.void,
  }
  const hashes = Array.from({ length: count }, (_, i) => hashOf(i))
  const peer = scripted(chunks)
  return tunnelBatch(land)(peer.source, hashes, events).pipe(
    Effect.map((outcome) => ({ outcome, landed, sizes, requests: peer.requests })),
  )
}

const answerArb: fc.Arbitrary<Answer> = fc.oneof(
  fc.record({ _tag: fc.constant("Found" as const), bytes: fc.uint8Array({ maxLength: 3000 }) }),
  fc.record({ _tag: fc.constant("NotFound" as const) }),
  fc.record({ _tag: fc.constant("TooLarge" as const), size: fc.nat() }),
)

describe("a batch of blobs over a tunnel (GetMany)", () => {
  it("each hash's answer arrives in order, whole, however the stream is cut", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(answerArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        async (answers, points) => {
          const bytes = Buffer.concat(answers.map((a, i) => wire(hashOf(i), a)))
          const { outcome, landed, sizes, requests } = await Effect.runPromise(
            run(answers.length, cut(bytes, points)),
          )
          const request = Result.getOrThrow(decodeRequest(requests[0] ?? new Uint8Array()))
          assert.deepStrictEqual(request, {
            _tag: "GetMany",
            hashes: answers.map((_, i) => hashOf(i)),
          })
          assert.strictEqual(outcome._tag, "Answered")
          if (outcome._tag !== "Answered") return
          answers.forEach((a, i) => {
            const hash = hashOf(i)
            if (a._tag === "Found") {
              assert.isTrue(Buffer.from(landed.get(hash) ?? []).equals(Buffer.from(a.bytes)))
              assert.strictEqual(sizes.get(hash), a.bytes.length)
            } else assert.isFalse(landed.has(hash))
          })
          assert.deepStrictEqual(
            outcome.notFound,
            answers.flatMap((a, i) => (a._tag === "NotFound" ? [hashOf(i)] : [])),
          )
          assert.deepStrictEqual(
            outcome.tooLarge,
            answers.flatMap((a, i) =>
              a._tag === "TooLarge" ? [{ hash: hashOf(i), size: a.size }] : [],
            ),
          )
        },
      ),
    )
  })

  it.effect("a blob no longer wanted is read past, not landed, and the next one still is", () =>
    Effect.gen(function* () {
      const first = new Uint8Array(5000).fill(1)
      const second = new Uint8Array(700).fill(2)
      const bytes = Buffer.concat([
        wire(hashOf(0), { _tag: "Found", bytes: first }),
        wire(hashOf(1), { _tag: "Found", bytes: second }),
      ])
      const { landed } = yield* run(2, cut(bytes, [100, 3000, 5100]), (h) => h !== hashOf(0))
      assert.deepStrictEqual([...landed.keys()], [hashOf(1)])
      assert.isTrue(Buffer.from(landed.get(hashOf(1)) ?? []).equals(Buffer.from(second)))
    }),
  )

  it.effect("a provider that predates GetMany (BadRequest) is Unsupported, nothing landed", () =>
    Effect.gen(function* () {
      const { outcome, landed } = yield* run(3, [
        encodeResponse({ _tag: "BadRequest", reason: 'Expected "Get" | "Has"' }),
      ])
      assert.strictEqual(outcome._tag, "Unsupported")
      assert.strictEqual(landed.size, 0)
    }),
  )

  it.effect("an answer out of order, short, long or over budget fails the call", () =>
    Effect.gen(function* () {
      const blob = new Uint8Array(100).fill(9)
      const found = (i: number) => wire(hashOf(i), { _tag: "Found", bytes: blob })
      const header = (r: BlobResponse) => encodeResponse(r)
      const cases: ReadonlyArray<readonly [string, number, ReadonlyArray<Uint8Array>]> = [
        ["ended after 1 of 2 answers", 2, [found(0)]],
        ["answered more than it was asked", 1, [found(0), found(1)]],
        ["ended after 50 of 100 bytes", 1, [found(0).subarray(0, found(0).length - 50)]],
        ["ended inside a header", 2, [found(0), found(1).subarray(0, 3)]],
        ["for another hash", 2, [found(0), header({ _tag: "NotFound", hash: hashOf(0) })]],
        ["answered a range", 1, [header({ _tag: "Found", size: 10, offset: 1, length: 9 })]],
        ["answered Have", 1, [header({ _tag: "Have", hashes: [] })]],
        ["answered BadRequest", 2, [found(0), header({ _tag: "BadRequest", reason: "no" })]],
      ]
      for (const [reason, count, chunks] of cases) {
        const error = yield* Effect.flip(run(count, chunks))
        assert.strictEqual(error._tag, "SourceError", reason)
        assert.include(error.message, reason)
      }
      // Sizes past the batch's limits fail before any byte of that blob is landed.
      const big = MAX_BATCH_BLOB_BYTES + 1
      const tooBig = yield* Effect.flip(
        run(1, [header({ _tag: "Found", size: big, offset: 0, length: big })]),
      )
      assert.strictEqual(tooBig._tag, "UnexpectedSize")
      const mib = MAX_BATCH_BLOB_BYTES
      const full = header({ _tag: "Found", size: mib, offset: 0, length: mib })
      const chunks = Array.from({ length: MAX_BATCH_BYTES / mib }, () => [
        full,
        new Uint8Array(mib),
      ]).flat()
      const overBudget = yield* Effect.flip(
        run(MAX_BATCH_BYTES / mib + 1, [...chunks, found(MAX_BATCH_BYTES / mib)]),
      )
      assert.strictEqual(overBudget._tag, "UnexpectedSize")
      if (overBudget._tag === "UnexpectedSize") assert.strictEqual(overBudget.announced, 100)
    }),
  )
})
