import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import fc from "fast-check"
import {
  CHUNK_HEADER_BYTES,
  DATA_HEADER_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_ERROR_TAG_BYTES,
  OPENED_HEADER_BYTES,
  openHeaderBytes,
} from "../src/frame.ts"
import {
  type Down,
  decodeFrame,
  decodeReply,
  decodeRequest,
  encodeFrame,
  FRAME_VERSION,
  type Frame,
  FrameDecodeError,
  MAX_FRAME_BYTES,
} from "../src/index.ts"

const bytes = (n: number, max = n) =>
  fc.uint8Array({ minLength: n, maxLength: max }).map((b) => new Uint8Array(b))
const u32 = fc.integer({ min: 0, max: 0xffff_ffff })
const protocol = fc.stringMatching(/^[\x21-\x7e]{1,64}$/)
/** Strings whose UTF-8 fits `max` bytes (the codec cuts longer ones). */
const utf8Within = (max: number) =>
  fc
    .string({ unit: "grapheme", maxLength: max })
    .filter((s) => new TextEncoder().encode(s).length <= max)

const down: fc.Arbitrary<Down> = fc.oneof(
  fc.record({ _tag: fc.constant("Bytes" as const), end: fc.boolean(), payload: bytes(0, 2000) }),
  fc.record({
    _tag: fc.constant("Failure" as const),
    tag: utf8Within(MAX_ERROR_TAG_BYTES),
    message: utf8Within(MAX_ERROR_MESSAGE_BYTES),
  }),
  fc.constant({ _tag: "Gone" as const }),
)

const frame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    _tag: fc.constant("Open" as const),
    end: fc.boolean(),
    window: fc.integer({ min: 1, max: 0xffff }),
    maxFrame: fc.integer({ min: 256, max: MAX_FRAME_BYTES }),
    timestamp: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    nonce: bytes(16),
    sessionId: bytes(16),
    protocol,
    mac: bytes(32),
    payload: bytes(0, 3000),
  }),
  fc.record({
    _tag: fc.constant("Data" as const),
    end: fc.boolean(),
    sessionId: bytes(16),
    seq: u32,
    payload: bytes(0, 3000),
  }),
  fc.record({ _tag: fc.constant("Pull" as const), sessionId: bytes(16), seq: u32, acked: u32 }),
  fc.record({
    _tag: fc.constant("Close" as const),
    sessionId: bytes(16),
    reason: fc.constantFrom("Done" as const, "Cancelled" as const),
  }),
  fc.record({
    _tag: fc.constant("Opened" as const),
    window: fc.integer({ min: 1, max: 0xffff }),
    proof: bytes(32),
    first: fc.option(down, { nil: undefined }),
  }),
  fc.record({ _tag: fc.constant("Ack" as const), seq: u32 }),
  fc.record({ _tag: fc.constant("Chunk" as const), seq: u32, down }),
  fc.record({ _tag: fc.constant("Wait" as const), seq: u32 }),
  fc.record({
    _tag: fc.constant("Refused" as const),
    reason: fc.constantFrom(
      "Unauthorized" as const,
      "UnknownProtocol" as const,
      "UnknownSession" as const,
      "Busy" as const,
      "BadRequest" as const,
      "UnsupportedVersion" as const,
    ),
  }),
)

const isRequest = (f: Frame) => ["Open", "Data", "Pull", "Close"].includes(f._tag)

const decodeSafely = (input: Uint8Array) => {
  const result = decodeFrame(input)
  if (Result.isFailure(result)) assert.instanceOf(result.failure, FrameDecodeError)
  return result
}

describe("tunnel frames", () => {
  it("round-trip: every frame decodes to itself", () => {
    fc.assert(
      fc.property(frame, (f) => {
        const encoded = encodeFrame(f)
        assert.isAtMost(encoded.length, MAX_FRAME_BYTES)
        assert.strictEqual(encoded[0], FRAME_VERSION)
        const decoded = decodeFrame(encoded)
        assert.isTrue(Result.isSuccess(decoded))
        assert.deepStrictEqual(Result.getOrThrow(decoded), f)
        // Requests and replies are told apart.
        assert.strictEqual(Result.isSuccess(decodeRequest(encoded)), isRequest(f))
        assert.strictEqual(Result.isSuccess(decodeReply(encoded)), !isRequest(f))
      }),
      { numRuns: 2000 },
    )
  })

  it("random bytes give a frame or a typed error, never a throw", () => {
    fc.assert(
      fc.property(bytes(0, 600), (input) => {
        decodeSafely(input)
      }),
      { numRuns: 5000 },
    )
  })

  it("bytes behind a valid version and kind give a frame or a typed error, never a throw", () => {
    const kinds = [0x01, 0x02, 0x03, 0x04, 0x81, 0x82, 0x83, 0x84, 0x85]
    fc.assert(
      fc.property(fc.constantFrom(...kinds), bytes(0, 200), (kind, rest) => {
        const input = new Uint8Array([FRAME_VERSION, kind, ...rest])
        decodeSafely(input)
      }),
      { numRuns: 5000 },
    )
  })

  it("a truncated or corrupted frame gives a frame or a typed error, never a throw", () => {
    fc.assert(
      fc.property(
        frame,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (f, cut, at, value) => {
          const encoded = encodeFrame(f)
          decodeSafely(encoded.subarray(0, cut % (encoded.length + 1)))
          const corrupted = encoded.slice()
          corrupted[at % corrupted.length] = value
          decodeSafely(corrupted)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it("another version is refused as UnsupportedVersion", () => {
    fc.assert(
      fc.property(frame, fc.integer({ min: 0, max: 255 }), (f, version) => {
        fc.pre(version !== FRAME_VERSION)
        const encoded = encodeFrame(f)
        encoded[0] = version
        const result = decodeFrame(encoded)
        assert.isTrue(Result.isFailure(result))
        if (Result.isFailure(result))
          assert.strictEqual(result.failure.reason, "UnsupportedVersion")
      }),
    )
  })

  it("a frame over 32 KiB is refused as TooLarge", () => {
    const result = decodeFrame(new Uint8Array(MAX_FRAME_BYTES + 1))
    assert.isTrue(Result.isFailure(result) && result.failure.reason === "TooLarge")
  })

  it("header sizes match the encoder, so a full frame is exactly 32 KiB", () => {
    const full = (header: number) => new Uint8Array(MAX_FRAME_BYTES - header)
    const id = new Uint8Array(16)
    const sizes = [
      encodeFrame({
        _tag: "Data",
        end: false,
        sessionId: id,
        seq: 1,
        payload: full(DATA_HEADER_BYTES),
      }),
      encodeFrame({
        _tag: "Chunk",
        seq: 1,
        down: { _tag: "Bytes", end: false, payload: full(CHUNK_HEADER_BYTES) },
      }),
      encodeFrame({
        _tag: "Opened",
        window: 1,
        proof: new Uint8Array(32),
        first: { _tag: "Bytes", end: true, payload: full(OPENED_HEADER_BYTES) },
      }),
      encodeFrame({
        _tag: "Open",
        end: true,
        window: 1,
        maxFrame: MAX_FRAME_BYTES,
        timestamp: 0,
        nonce: id,
        sessionId: id,
        protocol: "blobs/1",
        mac: new Uint8Array(32),
        payload: full(openHeaderBytes(7)),
      }),
    ].map((b) => b.length)
    assert.deepStrictEqual(sizes, [
      MAX_FRAME_BYTES,
      MAX_FRAME_BYTES,
      MAX_FRAME_BYTES,
      MAX_FRAME_BYTES,
    ])
    assert.throws(() =>
      encodeFrame({
        _tag: "Data",
        end: false,
        sessionId: id,
        seq: 1,
        payload: full(DATA_HEADER_BYTES - 1),
      }),
    )
  })

  it("error texts are cut to their limits at a character boundary", () => {
    const encoded = encodeFrame({
      _tag: "Chunk",
      seq: 0,
      down: { _tag: "Failure", tag: "é".repeat(100), message: "€".repeat(1000) },
    })
    const decoded = Result.getOrThrow(decodeFrame(encoded))
    assert.strictEqual(decoded._tag, "Chunk")
    if (decoded._tag !== "Chunk" || decoded.down._tag !== "Failure") return
    assert.strictEqual(decoded.down.tag, "é".repeat(32))
    assert.strictEqual(decoded.down.message, "€".repeat(341))
  })
})
