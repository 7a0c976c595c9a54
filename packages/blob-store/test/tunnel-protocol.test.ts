import { assert, describe, it } from "@effect/vitest"
import type { Peer } from "@save-dweb/tunnels"
import { Effect, Result, Stream } from "effect"
import fc from "fast-check"
import type { BlobHash } from "../src/hash.ts"
import {
  type BlobRequest,
  type BlobResponse,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  HEADER_PREFIX_BYTES,
  MAX_BATCH_HASHES,
} from "../src/tunnel-protocol.ts"
import { openTunnelBlob, tunnelSource } from "../src/tunnel-source.ts"
import { cut } from "./cut.ts"

const hash = "ab".repeat(32) as BlobHash

/** A peer whose every call answers these chunks. */
const scripted = (chunks: ReadonlyArray<Uint8Array>): Peer => ({
  routeId: "scripted",
  request: () => Effect.succeed(Buffer.concat(chunks)),
  open: () => Stream.fromIterable(chunks),
})

const receive = (chunks: ReadonlyArray<Uint8Array>) => {
  let size: number | undefined
  return Stream.mkUint8Array(
    openTunnelBlob(tunnelSource(scripted(chunks), { id: "s" }), hash, (n) => {
      size = n
    }),
  ).pipe(Effect.map((bytes) => ({ bytes, size })))
}

const found = (body: Uint8Array, header: Partial<BlobResponse> = {}) =>
  Buffer.concat([
    encodeResponse({
      _tag: "Found",
      size: body.length,
      offset: 0,
      length: body.length,
      ...header,
    } as BlobResponse),
    body,
  ])

const hashArb = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => Buffer.from(b).toString("hex") as BlobHash)
const count = fc.nat({ max: Number.MAX_SAFE_INTEGER })
const request: fc.Arbitrary<BlobRequest> = fc.oneof(
  fc.record(
    { _tag: fc.constant("Get" as const), hash: hashArb, offset: count, length: count },
    { requiredKeys: ["_tag", "hash"] },
  ),
  fc.record({ _tag: fc.constant("Has" as const), hashes: fc.array(hashArb, { maxLength: 40 }) }),
  fc.record({
    _tag: fc.constant("GetMany" as const),
    hashes: fc.array(hashArb, { minLength: 1, maxLength: MAX_BATCH_HASHES }),
  }),
)
const response: fc.Arbitrary<BlobResponse> = fc.oneof(
  fc.record({ _tag: fc.constant("Found" as const), size: count, offset: count, length: count }),
  fc.record({ _tag: fc.constant("NotFound" as const), hash: hashArb }),
  fc.record({ _tag: fc.constant("InvalidRange" as const), size: count }),
  fc.record({ _tag: fc.constant("Have" as const), hashes: fc.array(hashArb, { maxLength: 40 }) }),
  fc.record({ _tag: fc.constant("TooLarge" as const), hash: hashArb, size: count }),
  fc.record({ _tag: fc.constant("BadRequest" as const), reason: fc.string() }),
)

describe("blob protocol codec", () => {
  it("a request survives encoding", () => {
    fc.assert(
      fc.property(request, (r) => {
        assert.deepStrictEqual(Result.getOrThrow(decodeRequest(encodeRequest(r))), r)
      }),
    )
  })

  it("a response header is its JSON after a u32 length", () => {
    fc.assert(
      fc.property(response, (r) => {
        const wire = encodeResponse(r)
        const length = Buffer.from(wire).readUInt32BE(0)
        assert.strictEqual(length, wire.length - HEADER_PREFIX_BYTES)
        assert.deepStrictEqual(
          Result.getOrThrow(decodeResponse(wire.subarray(HEADER_PREFIX_BYTES))),
          r,
        )
      }),
    )
  })

  it("decoding any bytes gives a value or a reason, never a throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        assert.isTrue(Result.isResult(decodeRequest(bytes)))
        assert.isTrue(Result.isResult(decodeResponse(bytes)))
      }),
    )
  })

  it("a request with a malformed hash or a negative offset is refused", () => {
    const text = (s: string) => new TextEncoder().encode(s)
    for (const bad of [
      `{"_tag":"Get","hash":"${"AB".repeat(32)}"}`,
      `{"_tag":"Get","hash":"${hash}","offset":-1}`,
      `{"_tag":"Get","hash":"${hash}","length":1.5}`,
      `{"_tag":"Has","hashes":${JSON.stringify(Array(1025).fill(hash))}}`,
      `{"_tag":"Put","hash":"${hash}"}`,
      `{"_tag":"GetMany","hashes":[]}`,
      `{"_tag":"GetMany","hashes":${JSON.stringify(Array(MAX_BATCH_HASHES + 1).fill(hash))}}`,
      `{"_tag":"GetMany","hashes":["${"AB".repeat(32)}"]}`,
    ])
      assert.isTrue(Result.isFailure(decodeRequest(text(bad))), bad)
  })
})

describe("receiving a blob over a tunnel", () => {
  it("the bytes after the header arrive whole however the stream is cut", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 5000 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (body, points) => {
          const { bytes, size } = await Effect.runPromise(receive(cut(found(body), points)))
          assert.strictEqual(size, body.length)
          assert.isTrue(Buffer.from(bytes).equals(Buffer.from(body)))
        },
      ),
    )
  })

  it.effect("a peer that sends more or fewer bytes than announced is a SourceError", () =>
    Effect.gen(function* () {
      const body = new Uint8Array(1000).fill(7)
      const cases: ReadonlyArray<readonly [string, ReadonlyArray<Uint8Array>]> = [
        ["more than", [found(body), new Uint8Array(1)]],
        ["ended after", [found(body).subarray(0, found(body).length - 1)]],
        ["before its header", [found(body).subarray(0, 10)]],
        ["answered a range", [found(body.subarray(10), { size: 1000, offset: 10, length: 990 })]],
        ["answered Have", [encodeResponse({ _tag: "Have", hashes: [] })]],
        ["header of", [new Uint8Array([0xff, 0xff, 0xff, 0xff])]],
        ["does not decode", [new Uint8Array([0, 0, 0, 2, 0x7b, 0x7d])]],
      ]
      for (const [reason, chunks] of cases) {
        const error = yield* Effect.flip(receive(chunks))
        assert.strictEqual(error._tag, "SourceError", reason)
        assert.include(error.message, reason)
      }
      const missing = yield* Effect.flip(receive([encodeResponse({ _tag: "NotFound", hash })]))
      assert.strictEqual(missing._tag, "NotFoundAtSource")
    }),
  )
})
