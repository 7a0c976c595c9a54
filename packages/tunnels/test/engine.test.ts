// What the compliance suite cannot show from outside: retransmission over a lossy network,
// frame sizes, replay protection, bounded buffers, cancellation, idle sessions. Runs on
// the memory network, which carries the same frames through the same engine as Veilid.
import { createHash } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { SecretKey as Key, type SecretKey } from "@save-dweb/crypto"
import { Cause, Clock, Deferred, Effect, Exit, Fiber, Option, Queue, Result, Stream } from "effect"
import { signOpen } from "../src/auth.ts"
import { MAC_BYTES, openMacOffset } from "../src/frame.ts"
import {
  decodeReply,
  encodeFrame,
  MemoryNetwork,
  type MemoryNetworkOptions,
  makeTunnelsMemory,
  releasePayload,
  requestHandler,
  type TunnelsOptions,
  type TunnelsShape,
} from "../src/index.ts"
import { makeMemoryNetwork } from "../src/memory-network.ts"
import type { Inbound } from "../src/transport.ts"
import { makeTunnelsWith } from "../src/tunnels.ts"

const text = (s: string) => new TextEncoder().encode(s)
const str = (b: Uint8Array) => new TextDecoder().decode(b)
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
const pattern = (n: number) => new Uint8Array(n).map((_, i) => (i * 7 + (i >> 8)) & 0xff)
const chunked = (bytes: Uint8Array, size: number) =>
  Stream.fromIterable(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
      bytes.subarray(i * size, (i + 1) * size),
    ),
  )

/** A fresh memory network and a node maker on it. */
const network = (options?: MemoryNetworkOptions) => {
  const net = makeMemoryNetwork(options)
  const node = (tunnelsOptions?: TunnelsOptions) =>
    makeTunnelsMemory(tunnelsOptions).pipe(Effect.provideService(MemoryNetwork, net))
  return { net, node }
}

const serveEcho = (tunnels: TunnelsShape, key: SecretKey) =>
  tunnels.serve(
    "echo/1",
    requestHandler((body) => Effect.succeed(text(`re: ${str(body)}`))),
    { keys: [key] },
  )

const serveTransfer = (tunnels: TunnelsShape, key: SecretKey) =>
  Effect.gen(function* () {
    yield* tunnels.serve(
      "download/1",
      (call) =>
        Stream.unwrap(
          Effect.map(Stream.mkUint8Array(call.input), (req) =>
            chunked(pattern(Number(str(req))), 10_007),
          ),
        ),
      { keys: [key] },
    )
    yield* tunnels.serve(
      "upload/1",
      (call) =>
        Stream.fromEffect(Effect.map(Stream.mkUint8Array(call.input), (all) => text(sha256(all)))),
      { keys: [key] },
    )
  })

const MiB = 1024 * 1024

/** The first Open frame `observe` saw, as bytes. */
const isOpen = (message: Uint8Array) => message[0] === 1 && message[1] === 0x01

describe("tunnel engine (memory network)", () => {
  it.live("a lossy network still delivers every frame in order, each way", () =>
    Effect.gen(function* () {
      // Loses about one request in 7 and one reply in 11, the same ones every run.
      const { net, node } = network({
        drop: ({ index, direction }) =>
          direction === "request" ? index % 7 === 3 : index % 11 === 5,
      })
      const options: TunnelsOptions = { attempts: 10, retryDelay: "1 millis" }
      const key = yield* Key.generate
      const [alice, bob] = yield* Effect.all([node(options), node(options)])
      yield* serveTransfer(bob, key)
      yield* serveEcho(bob, key)
      const peer = yield* alice.connect((yield* bob.route).blob, key)

      for (let i = 0; i < 10; i++) {
        assert.strictEqual(str(yield* peer.request("echo/1", text(`${i}`))), `re: ${i}`)
      }
      const down = yield* Stream.mkUint8Array(peer.open("download/1", Stream.make(text(`${MiB}`))))
      assert.strictEqual(sha256(down), sha256(pattern(MiB)))
      const up = yield* Stream.mkUint8Array(peer.open("upload/1", chunked(pattern(MiB), 3_000)))
      assert.strictEqual(str(up), sha256(pattern(MiB)))
      assert.isAbove((yield* net.stats).dropped, 20)
    }),
  )

  it.live("frames fill up to 32 KiB and never exceed it, each way", () =>
    Effect.gen(function* () {
      const { net, node } = network()
      const key = yield* Key.generate
      const [alice, bob] = yield* Effect.all([node(), node()])
      yield* serveTransfer(bob, key)
      const peer = yield* alice.connect((yield* bob.route).blob, key)
      yield* Stream.runDrain(peer.open("download/1", Stream.make(text(`${2 * MiB}`))))
      yield* Stream.runDrain(peer.open("upload/1", chunked(pattern(2 * MiB), 100_000)))
      const stats = yield* net.stats
      assert.isAtMost(stats.largestRequest, 32_768)
      assert.isAtMost(stats.largestReply, 32_768)
      assert.isAtLeast(stats.largestRequest, 32_000)
      assert.isAtLeast(stats.largestReply, 32_000)
      // 2 MiB each way in 32 KiB frames: about 64 calls each way, plus a few.
      assert.isBelow(stats.calls, 2 * 70)
    }),
  )

  it.live(
    "a payload released once used frees its reply at once; pieces short of a reply's end and other bytes are left alone",
    () =>
      Effect.gen(function* () {
        const { node } = network()
        const key = yield* Key.generate
        const [alice, bob] = yield* Effect.all([node(), node()])
        yield* serveTransfer(bob, key)
        const peer = yield* alice.connect((yield* bob.route).blob, key)
        const size = 300_000
        const copies: Array<Uint8Array> = []
        let released = 0
        yield* peer.open("download/1", Stream.make(text(`${size}`))).pipe(
          Stream.runForEach((chunk) =>
            Effect.sync(() => {
              copies.push(chunk.slice())
              // A piece that stops short of the reply's end frees nothing.
              const head = chunk.subarray(0, Math.max(0, chunk.length - 1))
              releasePayload(head)
              assert.strictEqual(head.length, Math.max(0, chunk.length - 1))
              releasePayload(chunk)
              if (chunk.buffer.byteLength === 0 && chunk.length === 0) released++
            }),
          ),
        )
        // Every payload came as the end of its own reply: all freed, and the bytes were
        // whole before that.
        assert.strictEqual(released, copies.length)
        assert.isAbove(released, 8)
        assert.strictEqual(sha256(Buffer.concat(copies)), sha256(pattern(size)))
        const mine = pattern(64)
        releasePayload(mine)
        assert.strictEqual(sha256(mine), sha256(pattern(64)))
      }),
  )

  it.live(
    "a reader that stalls at the end of a slow handler's output gets every byte: a Pull past the last frame that finds the session ended is no error",
    () =>
      Effect.gen(function* () {
        const { node } = network()
        const key = yield* Key.generate
        // Pulls the handler cannot answer yet get Wait at once and are sent again later,
        // some only after the session ended.
        const [alice, bob] = yield* Effect.all([node(), node({ maxHeldCalls: 0 })])
        const piece = pattern(30_000)
        const pieces = 40
        yield* bob.serve(
          "slow/1",
          () =>
            Stream.range(1, pieces).pipe(Stream.mapEffect(() => Effect.as(Effect.sleep(5), piece))),
          { keys: [key] },
        )
        const peer = yield* alice.connect((yield* bob.route).blob, key)
        for (let round = 0; round < 6; round++) {
          let bytes = 0
          let stalled = false
          const started = Date.now()
          yield* peer.open("slow/1", Stream.make(text("go"))).pipe(
            Stream.runForEach((chunk) =>
              Effect.andThen(
                // Once the handler is done, the reader stalls while those Pulls are out.
                Effect.suspend(() => {
                  if (stalled || Date.now() - started < pieces * 5) return Effect.sleep(10)
                  stalled = true
                  return Effect.sleep(600)
                }),
                Effect.sync(() => {
                  bytes += chunk.length
                }),
              ),
            ),
          )
          assert.strictEqual(bytes, pieces * piece.length)
        }
      }),
  )

  it.live("stop-and-wait with 1 KiB frames (the baseline mode) delivers the same bytes", () =>
    Effect.gen(function* () {
      const { net, node } = network()
      const key = yield* Key.generate
      const [alice, bob] = yield* Effect.all([node(), node()])
      yield* serveTransfer(bob, key)
      const peer = yield* alice.connect((yield* bob.route).blob, key)
      const baseline = { window: 1, frameSize: 1024 }
      const down = yield* Stream.mkUint8Array(
        peer.open("download/1", Stream.make(text("100000")), baseline),
      )
      assert.strictEqual(sha256(down), sha256(pattern(100_000)))
      const up = yield* Stream.mkUint8Array(
        peer.open("upload/1", chunked(pattern(100_000), 4_000), baseline),
      )
      assert.strictEqual(str(up), sha256(pattern(100_000)))
      const stats = yield* net.stats
      assert.isAtMost(stats.largestRequest, 1024)
      assert.isAtMost(stats.largestReply, 1024)
      assert.isAtLeast(stats.calls, 2 * Math.ceil(100_000 / 1024))
    }),
  )

  it.live(
    "a captured opening replayed to the same route is refused, and the handler runs once",
    () =>
      Effect.gen(function* () {
        const captured: Array<{ target: string; message: Uint8Array }> = []
        const { net, node } = network({
          observe: (e) => {
            if (e.kind === "call" && isOpen(e.message)) captured.push(e)
          },
        })
        const key = yield* Key.generate
        const [alice, bob] = yield* Effect.all([node(), node()])
        let runs = 0
        yield* bob.serve(
          "pay/1",
          requestHandler(() =>
            Effect.sync(() => {
              runs++
              return text("paid")
            }),
          ),
          { keys: [key] },
        )
        const peer = yield* alice.connect((yield* bob.route).blob, key)
        assert.strictEqual(str(yield* peer.request("pay/1", text("10 coins"))), "paid")
        const open = captured[0]
        assert.isDefined(open)
        if (open === undefined) return

        const attacker = yield* net.node
        const answer = decodeReply(yield* attacker.call(open.target, open.message))
        assert.deepStrictEqual(Result.getOrThrow(answer), {
          _tag: "Refused",
          reason: "Unauthorized",
        })
        assert.strictEqual(runs, 1)
      }),
  )

  it.live("an opening captured on one member's route is refused on another's", () =>
    Effect.gen(function* () {
      const captured: Array<{ target: string; message: Uint8Array }> = []
      const { net, node } = network({
        observe: (e) => {
          if (e.kind === "call" && isOpen(e.message)) captured.push(e)
        },
      })
      const key = yield* Key.generate
      const [alice, bob, carol] = yield* Effect.all([node(), node(), node()])
      yield* serveEcho(bob, key)
      yield* serveEcho(carol, key)
      const peer = yield* alice.connect((yield* bob.route).blob, key)
      yield* peer.request("echo/1", text("hi"))
      const open = captured[0]
      if (open === undefined) return assert.fail("no opening captured")
      const attacker = yield* net.node
      const answer = decodeReply(yield* attacker.call((yield* carol.route).routeId, open.message))
      assert.deepStrictEqual(Result.getOrThrow(answer), { _tag: "Refused", reason: "Unauthorized" })
    }),
  )

  it.live("an opening outside the replay window is refused even with a valid MAC", () =>
    Effect.gen(function* () {
      const { net, node } = network()
      const key = yield* Key.generate
      const bob = yield* node({ replayWindow: "2 minutes" })
      yield* serveEcho(bob, key)
      const { routeId } = yield* bob.route
      const attacker = yield* net.node
      const now = yield* Clock.currentTimeMillis
      const opening = (timestamp: number) => {
        const frame = encodeFrame({
          _tag: "Open",
          end: true,
          window: 1,
          maxFrame: 32_768,
          timestamp,
          nonce: crypto.getRandomValues(new Uint8Array(16)),
          sessionId: crypto.getRandomValues(new Uint8Array(16)),
          protocol: "echo/1",
          mac: new Uint8Array(MAC_BYTES),
          payload: text("old"),
        })
        const at = openMacOffset("echo/1".length)
        frame.set(signOpen(key, routeId, frame, at), at)
        return frame
      }
      const reply = (timestamp: number) =>
        Effect.map(attacker.call(routeId, opening(timestamp)), (b) =>
          Result.getOrThrow(decodeReply(b)),
        )
      const past = yield* reply(now - 3 * 60_000)
      const future = yield* reply(now + 3 * 60_000)
      const fresh = yield* reply(now)
      assert.deepStrictEqual(past, { _tag: "Refused", reason: "Unauthorized" })
      assert.deepStrictEqual(future, { _tag: "Refused", reason: "Unauthorized" })
      assert.strictEqual(fresh._tag, "Opened")
    }),
  )

  it.live("garbage and other frame versions are refused and the node keeps serving", () =>
    Effect.gen(function* () {
      const { net, node } = network()
      const key = yield* Key.generate
      const [alice, bob] = yield* Effect.all([node(), node()])
      yield* serveEcho(bob, key)
      const { routeId, blob } = yield* bob.route
      const attacker = yield* net.node
      const refusal = (bytes: Uint8Array) =>
        Effect.map(attacker.call(routeId, bytes), (b) => Result.getOrThrow(decodeReply(b)))
      assert.deepStrictEqual(yield* refusal(text("GET / HTTP/1.1")), {
        _tag: "Refused",
        reason: "UnsupportedVersion",
      })
      assert.deepStrictEqual(yield* refusal(new Uint8Array([1, 0x42, 0])), {
        _tag: "Refused",
        reason: "BadRequest",
      })
      assert.deepStrictEqual(yield* refusal(new Uint8Array(0)), {
        _tag: "Refused",
        reason: "BadRequest",
      })
      // A well-formed frame for a session nobody opened.
      const pull = encodeFrame({ _tag: "Pull", sessionId: new Uint8Array(16), seq: 0, acked: 0 })
      assert.deepStrictEqual(yield* refusal(pull), { _tag: "Refused", reason: "UnknownSession" })
      const peer = yield* alice.connect(blob, key)
      assert.strictEqual(str(yield* peer.request("echo/1", text("ok"))), "re: ok")
    }),
  )

  it.live("a route that cannot prove our key is an UnverifiedPeer", () =>
    Effect.gen(function* () {
      const { net, node } = network()
      const key = yield* Key.generate
      const alice = yield* node()
      // A stranger's route that accepts any opening and answers with a made-up proof.
      const impostor = yield* net.node
      const route = yield* impostor.allocateRoute
      yield* impostor.listen({
        onCall: () =>
          Effect.succeed(
            encodeFrame({
              _tag: "Opened",
              window: 4,
              proof: new Uint8Array(32).fill(7),
              first: { _tag: "Bytes", end: true, payload: text("trust me") },
            }),
          ),
        onMessage: () => Effect.void,
        onRouteChange: () => Effect.void,
      })
      const peer = yield* alice.connect(route.blob, key)
      const error = yield* Effect.flip(peer.request("echo/1", text("hi")))
      assert.strictEqual(error._tag, "UnverifiedPeer")
    }),
  )

  it.live(
    "a slow reader holds back the handler: buffers stay bounded, and stopping cancels it",
    () =>
      Effect.gen(function* () {
        const { node } = network()
        const key = yield* Key.generate
        const [alice, bob] = yield* Effect.all([node(), node()])
        let produced = 0
        const stopped = yield* Deferred.make<void>()
        const chunk = new Uint8Array(10_000)
        yield* bob.serve(
          "endless/1",
          () =>
            Stream.fromEffectRepeat(
              Effect.sync(() => {
                produced += chunk.length
                return chunk
              }),
            ).pipe(Stream.ensuring(Deferred.succeed(stopped, undefined))),
          { keys: [key] },
        )
        const peer = yield* alice.connect((yield* bob.route).blob, key)
        let consumed = 0
        let ahead = 0
        yield* peer.open("endless/1", Stream.make(text("go"))).pipe(
          Stream.takeWhile(() => consumed < 4 * MiB),
          Stream.runForEach((c) =>
            Effect.gen(function* () {
              consumed += c.length
              ahead = Math.max(ahead, produced - consumed)
              // A reader slower than the network: let every other fiber run first.
              for (let i = 0; i < 20; i++) yield* Effect.yieldNow
            }),
          ),
        )
        // Window 16 of 32 KiB frames at the caller and at the handler, plus small queues.
        assert.isBelow(ahead, 2 * MiB)
        yield* Deferred.await(stopped).pipe(Effect.timeout("5 seconds"))
      }),
  )

  it.live("an interactive exchange never stalls: each input chunk gets its answer first", () =>
    Effect.gen(function* () {
      const { node } = network()
      const key = yield* Key.generate
      const [alice, bob] = yield* Effect.all([node(), node()])
      yield* bob.serve(
        "shout/1",
        (call) => Stream.map(call.input, (b) => text(str(b).toUpperCase())),
        { keys: [key] },
      )
      const peer = yield* alice.connect((yield* bob.route).blob, key)
      const input = yield* Queue.unbounded<Uint8Array, Cause.Done>()
      const output = yield* Stream.toQueue(peer.open("shout/1", Stream.fromQueue(input)), {
        capacity: 16,
      })
      for (const word of ["one", "two", "three"]) {
        yield* Queue.offer(input, text(word))
        const answer = yield* Queue.take(output).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(str(answer), word.toUpperCase())
      }
      yield* Queue.end(input)
      const rest = yield* Effect.exit(Queue.take(output))
      assert.isTrue(Exit.isFailure(rest))
    }),
  )

  it.live("the caller's own input failing fails its call with that error", () =>
    Effect.gen(function* () {
      const { node } = network()
      const key = yield* Key.generate
      const [alice, bob] = yield* Effect.all([node(), node()])
      yield* serveTransfer(bob, key)
      const peer = yield* alice.connect((yield* bob.route).blob, key)
      const error = yield* Effect.flip(
        Stream.runDrain(
          peer.open(
            "upload/1",
            Stream.concat(chunked(pattern(200_000), 50_000), Stream.fail("disk gone" as const)),
          ),
        ),
      )
      assert.strictEqual(error, "disk gone")
    }),
  )

  it.live(
    "a session left idle is dropped and its handler stopped; the caller then gets an error",
    () =>
      Effect.gen(function* () {
        const { node } = network()
        const key = yield* Key.generate
        const alice = yield* node()
        const bob = yield* node({ sessionIdleTimeout: "200 millis" })
        const stopped = yield* Deferred.make<void>()
        const chunk = new Uint8Array(30_000)
        yield* bob.serve(
          "endless/1",
          () =>
            Stream.fromEffectRepeat(Effect.succeed(chunk)).pipe(
              Stream.ensuring(Deferred.succeed(stopped, undefined)),
            ),
          { keys: [key] },
        )
        const peer = yield* alice.connect((yield* bob.route).blob, key)
        const output = yield* Stream.toQueue(peer.open("endless/1", Stream.make(text("go"))), {
          capacity: 1,
        })
        yield* Queue.take(output)
        // The reader pauses; the window fills; no frame reaches the handler any more.
        yield* Deferred.await(stopped).pipe(Effect.timeout("5 seconds"))
        const drained = yield* Effect.exit(Effect.forever(Queue.take(output)))
        assert.isTrue(Exit.isFailure(drained))
        if (Exit.isFailure(drained)) {
          const error = Cause.findErrorOption(drained.cause)
          assert.isTrue(
            error._tag === "Some" &&
              (error.value as { _tag: string })._tag === "TunnelProtocolError",
          )
        }
      }),
  )

  it.live("a node with its sessions full answers PeerBusy", () =>
    Effect.gen(function* () {
      const { node } = network()
      const key = yield* Key.generate
      const alice = yield* node({ attempts: 2, retryDelay: "1 millis" })
      const bob = yield* node({ maxSessions: 1 })
      yield* bob.serve("hang/1", () => Stream.concat(Stream.make(text("first")), Stream.never), {
        keys: [key],
      })
      const peer = yield* alice.connect((yield* bob.route).blob, key)
      const output = yield* Stream.toQueue(peer.open("hang/1", Stream.make(text("x"))), {
        capacity: 1,
      })
      assert.strictEqual(str(yield* Queue.take(output)), "first")
      const busy = yield* Effect.flip(peer.request("hang/1", text("y")))
      assert.strictEqual(busy._tag, "PeerBusy")
    }),
  )

  it.live("protocol names are checked, and one protocol has one handler at a time", () =>
    Effect.gen(function* () {
      const { node } = network()
      const key = yield* Key.generate
      const [alice, bob] = yield* Effect.all([node(), node()])
      const handler = requestHandler(() => Effect.succeed(text("v")))
      const bad = yield* Effect.flip(bob.serve("has space", handler, { keys: [key] }))
      assert.strictEqual(bad._tag, "InvalidProtocolName")
      const tooLong = yield* Effect.flip(bob.serve("x".repeat(65), handler, { keys: [key] }))
      assert.strictEqual(tooLong._tag, "InvalidProtocolName")

      const first = yield* Effect.forkScoped(
        Effect.scoped(Effect.andThen(bob.serve("v/1", handler, { keys: [key] }), Effect.never)),
      )
      yield* Effect.yieldNow
      const taken = yield* Effect.flip(bob.serve("v/1", handler, { keys: [key] }))
      assert.strictEqual(taken._tag, "ProtocolInUse")
      yield* Fiber.interrupt(first)
      yield* bob.serve("v/1", handler, { keys: [key] })

      const peer = yield* alice.connect((yield* bob.route).blob, key)
      const badCall = yield* Effect.flip(peer.request("", text("?")))
      assert.strictEqual(badCall._tag, "InvalidProtocolName")
      assert.strictEqual(str(yield* peer.request("v/1", text("?"))), "v")
    }),
  )

  it.live("a handler accepts any of its keys and learns which one the caller proved", () =>
    Effect.gen(function* () {
      const { node } = network()
      const [groupA, groupB] = [yield* Key.generate, yield* Key.generate]
      const [alice, bob] = yield* Effect.all([node(), node()])
      yield* bob.serve(
        "which/1",
        requestHandler((_, call) => Effect.succeed(text(`key ${call.keyIndex}`))),
        { keys: [groupA, groupB] },
      )
      const { blob } = yield* bob.route
      const viaA = yield* alice.connect(blob, groupA)
      const viaB = yield* alice.connect(blob, groupB)
      assert.strictEqual(str(yield* viaA.request("which/1", new Uint8Array(0))), "key 0")
      assert.strictEqual(str(yield* viaB.request("which/1", new Uint8Array(0))), "key 1")
    }),
  )

  it.live("renewing the route on demand emits the new blob, and the old one stops working", () =>
    Effect.gen(function* () {
      const { node } = network()
      const key = yield* Key.generate
      const alice = yield* node({ attempts: 1 })
      const bob = yield* node()
      yield* serveEcho(bob, key)
      const old = yield* bob.route
      const seen = yield* bob.routeChanges.pipe(
        Stream.filter((r) => r.routeId !== old.routeId),
        Stream.runHead,
        Effect.forkScoped,
      )
      const renewed = yield* bob.renewRoute
      const emitted = yield* Fiber.join(seen).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(emitted, Option.some(renewed))
      assert.notStrictEqual(renewed.routeId, old.routeId)
      const stale = yield* alice.connect(old.blob, key)
      assert.strictEqual(
        (yield* Effect.flip(stale.request("echo/1", text("?"))))._tag,
        "PeerUnreachable",
      )
      const fresh = yield* alice.connect(renewed.blob, key)
      assert.strictEqual(str(yield* fresh.request("echo/1", text("!"))), "re: !")
    }),
  )

  it.live("a peer route Veilid reports dead fails fast at once, without a call", () =>
    Effect.gen(function* () {
      const { net, node } = network()
      const key = yield* Key.generate
      const bob = yield* node()
      yield* serveEcho(bob, key)
      // Alice's transport, with a hand on the updates it delivers (Veilid's RouteChange).
      const transport = yield* net.node
      let inbound: Inbound | undefined
      const alice = yield* makeTunnelsWith({
        ...transport,
        listen: (i) => {
          inbound = i
          return transport.listen(i)
        },
      })
      const peer = yield* alice.connect((yield* bob.route).blob, key)
      assert.strictEqual(str(yield* peer.request("echo/1", text("1"))), "re: 1")
      const calls = (yield* net.stats).calls
      yield* inbound?.onRouteChange({ deadRoutes: [], deadRemoteRoutes: [peer.routeId] }) ??
        Effect.die("not listening")
      const error = yield* Effect.flip(peer.request("echo/1", text("2")))
      assert.strictEqual(error._tag, "PeerUnreachable")
      assert.strictEqual((yield* net.stats).calls, calls)
    }),
  )

  it.live("a route blob from elsewhere is an InvalidRouteBlob", () =>
    Effect.gen(function* () {
      const { node } = network()
      const alice = yield* node()
      const error = yield* Effect.flip(alice.connect(text("not a route"), yield* Key.generate))
      assert.strictEqual(error._tag, "InvalidRouteBlob")
    }),
  )
})

// Veilid loses a whole 32 KiB frame when one UDP fragment is lost, and its call fails only
// at the RPC timeout (5 s). The memory network loses chosen frames the same way (after 3 s
// here, to keep the tests short).
describe("early resends of lost frames", () => {
  const LOSS_TIMEOUT = 3_000
  const seqAt = (message: Uint8Array, offset: number) =>
    new DataView(message.buffer, message.byteOffset, message.byteLength).getUint32(offset)
  /** A frame's kind and seq ("Chunk 5"): Chunk and Ack replies, Data requests. */
  const frameName = (direction: "request" | "reply", message: Uint8Array) => {
    if (direction === "reply" && message[1] === 0x83) return `Chunk ${seqAt(message, 2)}`
    if (direction === "reply" && message[1] === 0x82) return `Ack ${seqAt(message, 2)}`
    if (direction === "request" && message[1] === 0x02) return `Data ${seqAt(message, 19)}`
    return undefined
  }
  /** Loses the first copy of every frame `lose` names; a lost call fails after 3 s. */
  const losingFirstCopies = (lose: (name: string) => boolean) => {
    const lostOnce = new Set<string>()
    return network({
      lossTimeout: `${LOSS_TIMEOUT} millis`,
      drop: ({ direction, message }) => {
        const name = frameName(direction, message)
        if (name === undefined || !lose(name) || lostOnce.has(name)) return false
        lostOnce.add(name)
        return true
      },
    })
  }
  const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const t0 = performance.now()
      const value = yield* effect
      return { value, millis: performance.now() - t0 }
    })

  it.live("a lost download frame is sent again after about a call time, not the timeout", () =>
    Effect.gen(function* () {
      const download = (options: TunnelsOptions) =>
        Effect.scoped(
          Effect.gen(function* () {
            const { net, node } = losingFirstCopies(
              (name) => name === "Chunk 5" || name === "Chunk 17",
            )
            const key = yield* Key.generate
            const [alice, bob] = yield* Effect.all([node(options), node()])
            yield* serveTransfer(bob, key)
            const peer = yield* alice.connect((yield* bob.route).blob, key)
            const { value, millis } = yield* timed(
              Stream.mkUint8Array(peer.open("download/1", Stream.make(text(`${MiB}`)))),
            )
            assert.strictEqual(sha256(value), sha256(pattern(MiB)))
            assert.strictEqual((yield* net.stats).dropped, 2)
            return millis
          }),
        )
      const early = yield* download({})
      const late = yield* download({ resendEarly: false })
      // Both frames were lost at once; their copies went after 1 s (no call took longer).
      assert.isBelow(early, 2_000)
      assert.isAtLeast(late, LOSS_TIMEOUT)
    }),
  )

  it.live("upload frames lost on the way or in their ack arrive once each, early", () =>
    Effect.gen(function* () {
      // Data 3 reaches the handler but its Ack is lost: the early copy is a duplicate there.
      const { net, node } = losingFirstCopies((name) => name === "Ack 3" || name === "Data 7")
      const key = yield* Key.generate
      const [alice, bob] = yield* Effect.all([node(), node()])
      yield* serveTransfer(bob, key)
      const peer = yield* alice.connect((yield* bob.route).blob, key)
      const { value, millis } = yield* timed(
        Stream.mkUint8Array(peer.open("upload/1", chunked(pattern(MiB), 3_000))),
      )
      // The handler hashed what it was given: every byte once, in order.
      assert.strictEqual(str(value), sha256(pattern(MiB)))
      assert.strictEqual((yield* net.stats).dropped, 2)
      assert.isBelow(millis, 2_000)
    }),
  )

  it.live("early resends are not tries: with one try per frame the peer stays alive", () =>
    Effect.gen(function* () {
      // Every download frame's first reply is lost; one failed try would mark the peer dead.
      const { net, node } = losingFirstCopies((name) => name.startsWith("Chunk"))
      const key = yield* Key.generate
      const [alice, bob] = yield* Effect.all([node({ attempts: 1 }), node()])
      yield* serveTransfer(bob, key)
      yield* serveEcho(bob, key)
      const peer = yield* alice.connect((yield* bob.route).blob, key)
      const size = 256 * 1024
      const down = yield* Stream.mkUint8Array(peer.open("download/1", Stream.make(text(`${size}`))))
      assert.strictEqual(sha256(down), sha256(pattern(size)))
      assert.isAtLeast((yield* net.stats).dropped, Math.ceil(size / 32_768))
      assert.strictEqual(str(yield* peer.request("echo/1", text("still there"))), "re: still there")
    }),
  )

  it.live("without early resends, the same losses with one try mark the peer dead", () =>
    Effect.gen(function* () {
      const { node } = losingFirstCopies((name) => name === "Chunk 2")
      const key = yield* Key.generate
      const [alice, bob] = yield* Effect.all([node({ attempts: 1, resendEarly: false }), node()])
      yield* serveTransfer(bob, key)
      yield* serveEcho(bob, key)
      const peer = yield* alice.connect((yield* bob.route).blob, key)
      const failed = yield* Effect.flip(
        Stream.runDrain(peer.open("download/1", Stream.make(text(`${256 * 1024}`)))),
      )
      assert.strictEqual(failed._tag, "PeerUnreachable")
      const again = yield* Effect.flip(peer.request("echo/1", text("anyone?")))
      assert.strictEqual(again._tag, "PeerUnreachable")
    }),
  )
})
