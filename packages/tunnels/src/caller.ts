// The caller's half of the protocol. The caller drives everything with app_calls (the
// handler cannot reach the caller without the caller's route): its data rides in Data
// requests, the handler's data in the replies to Pull requests. Each direction keeps up
// to `window` calls in flight; sequence numbers put the frames back in order.
import { randomBytes } from "node:crypto"
import type { SecretKey } from "@save-dweb/crypto"
import {
  Cause,
  Clock,
  Deferred,
  Effect,
  Exit,
  FiberSet,
  Option,
  Queue,
  Result,
  Semaphore,
  Stream,
} from "effect"
import { signOpen, verifyOpened } from "./auth.ts"
import {
  type CallError,
  InvalidProtocolName,
  PeerBusy,
  PeerUnreachable,
  RemoteError,
  TunnelProtocolError,
  Unauthorized,
  UnknownProtocol,
  UnverifiedPeer,
} from "./errors.ts"
import {
  DATA_HEADER_BYTES,
  type Down,
  decodeReply,
  encodeFrame,
  isProtocolName,
  MAC_BYTES,
  NONCE_BYTES,
  openHeaderBytes,
  openMacOffset,
  type RefusalReason,
  type Reply,
  SESSION_ID_BYTES,
} from "./frame.ts"
import { bytesFramer, type Framer, queueFramer } from "./framer.ts"
import {
  clampFrameSize,
  clampWindow,
  DEFAULT_WINDOW,
  type ResolvedOptions,
  sizeWindow,
} from "./options.ts"
import { MAX_COPIES, MIN_POLL_MILLIS, makePacing } from "./pacing.ts"
import { markReleasable } from "./payload-release.ts"
import { Signal } from "./signal.ts"
import { type RouteId, type Transport, TransportError } from "./transport.ts"

export interface CallOptions {
  /**
   * Frames in flight each way (default: the service's `window`; unset there too, sized from
   * the measured call time). 1 = stop-and-wait.
   */
  readonly window?: number
  /** Bytes per app_call message, header included (default: the service's `frameSize`). */
  readonly frameSize?: number
}

export type CallInput<E, R> =
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Stream"; readonly stream: Stream.Stream<Uint8Array, E, R> }

export interface CallerContext {
  readonly transport: Transport
  readonly options: ResolvedOptions
  /** When the route was marked dead and is still within its dead time. */
  readonly isDead: (routeId: RouteId) => Effect.Effect<boolean>
  readonly markDead: (routeId: RouteId) => Effect.Effect<void>
  /** Where closing messages are sent from after a call's stream is gone. */
  readonly background: FiberSet.FiberSet<unknown, unknown>
}

const utf8 = new TextEncoder()

const unreachable = (routeId: RouteId, message: string) => new PeerUnreachable({ routeId, message })

const refusalError = (reason: RefusalReason, routeId: RouteId, protocol: string): CallError => {
  switch (reason) {
    case "Unauthorized":
      return new Unauthorized({
        protocol,
        message: `the peer refused our proof for ${protocol}: we hold no key its handler accepts`,
      })
    case "UnknownProtocol":
      return new UnknownProtocol({
        protocol,
        message: `the peer serves no handler for ${protocol}`,
      })
    case "Busy":
      return new PeerBusy({ routeId, message: "the peer has too many open sessions" })
    case "UnknownSession":
      return new TunnelProtocolError({
        message: "the peer no longer knows this session (it restarted or dropped it as idle)",
      })
    case "UnsupportedVersion":
      return new TunnelProtocolError({ message: "the peer speaks another tunnel frame version" })
    case "BadRequest":
      return new TunnelProtocolError({ message: "the peer refused a frame as malformed" })
  }
}

const unexpected = (reply: Reply, wanted: string) =>
  new TunnelProtocolError({ message: `expected ${wanted}, got ${reply._tag}` })

/** Exponential pause for retries and "wait" answers, capped. */
const backoff = (base: number, attempt: number, cap: number) =>
  Effect.sleep(Math.min(cap, base * 2 ** Math.max(0, attempt - 1)))

export const openCall = <E, R>(
  ctx: CallerContext,
  target: { readonly routeId: RouteId; readonly key: SecretKey },
  protocol: string,
  input: CallInput<E, R>,
  callOptions: CallOptions = {},
): Stream.Stream<Uint8Array, CallError | E, R> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const { transport, options } = ctx
      const { routeId, key } = target
      if (!isProtocolName(protocol)) {
        return yield* new InvalidProtocolName({
          protocol,
          message: "a protocol name is 1 to 64 printable ASCII characters without spaces",
        })
      }
      if (yield* ctx.isDead(routeId)) {
        return yield* unreachable(routeId, "the peer's route is marked dead; import its new route")
      }
      const fixed = callOptions.window ?? options.window
      // A sized window asks for the most this node allows and uses what the call time needs.
      const window = fixed === undefined ? options.maxWindow : clampWindow(fixed)
      const frameSize = clampFrameSize(callOptions.frameSize ?? options.frameSize)
      // Call times and delivery rate of this session. The shortest call (the opening first)
      // is the path's delay without the queueing our own frames add; an opening held by a
      // slow handler only overestimates it until the first quick answer.
      const pacing = makePacing()
      /** Every copy of a frame in flight; they end with the call. */
      const inFlightCopies = yield* FiberSet.make<unknown, unknown>()
      const framer: Framer<E> =
        input._tag === "Bytes"
          ? bytesFramer(input.bytes)
          : queueFramer(yield* Stream.toQueue(input.stream, { capacity: 16 }))

      /** One app_call, under our own deadline; its reply time is sampled. */
      const callOnce = (message: Uint8Array) =>
        Effect.suspend(() => {
          const sent = performance.now()
          return transport.call(routeId, message).pipe(
            Effect.timeoutOrElse({
              duration: options.callTimeoutMillis,
              orElse: () =>
                Effect.fail(new TransportError({ kind: "Timeout", message: "no answer in time" })),
            }),
            Effect.tap(() => Effect.sync(() => pacing.sample(performance.now() - sent, sent))),
          )
        })

      /**
       * One try of a frame: the first copy, and while no reply has come, another copy as soon
       * as a later frame's answer shows the last copy lost, or after `resendAfter` (up to
       * `MAX_COPIES` in flight). A lost UDP fragment loses a whole frame, whose call only
       * fails at Veilid's RPC timeout (5 s); a copy sent after about a call time usually
       * arrives long before. The first reply wins. A copy's timeout ends the try only when no
       * other copy is in flight, so the early copies are not tries: only real failures count
       * towards marking the peer dead. The handler answers duplicates from what it kept (an
       * Ack again, the same Chunk).
       */
      const tryFrame = (message: Uint8Array, early: boolean) =>
        Effect.gen(function* () {
          const answer = yield* Deferred.make<Uint8Array, TransportError>()
          let inFlight = 0
          let sent = 0
          let winner: number | undefined
          // The copies that lose keep running (until their reply or Veilid's timeout): an
          // earlier copy answering after the winner shows the resend was not needed.
          const copy = (index: number) =>
            Effect.gen(function* () {
              const exit = yield* Effect.exit(callOnce(message))
              inFlight--
              if (Exit.isSuccess(exit)) {
                if (winner === undefined) winner = index
                if (index < winner || (index === winner && index < sent - 1)) pacing.spurious()
                yield* Deferred.succeed(answer, exit.value)
                return
              }
              const failure = Cause.findErrorOption(exit.cause)
              const outlived = failure._tag === "Some" && failure.value.kind === "Timeout"
              if (!outlived || inFlight === 0) yield* Deferred.failCause(answer, exit.cause)
            })
          let lastSent = 0
          const send = Effect.suspend(() => {
            inFlight++
            lastSent = performance.now()
            return FiberSet.run(inFlightCopies, copy(sent++))
          })
          yield* send
          while (early && sent < MAX_COPIES) {
            // Until the reply, a later frame's answer showing this copy lost, or the timeout.
            const timeout = lastSent + pacing.resendAfter(sent) - performance.now()
            if (timeout <= 0 || pacing.lost(lastSent)) {
              yield* send
              continue
            }
            const poll = Math.max(MIN_POLL_MILLIS, (pacing.shortestCall() ?? 0) / 4)
            const reply = yield* Deferred.await(answer).pipe(
              Effect.timeoutOption(Math.min(timeout, poll)),
            )
            if (Option.isSome(reply)) return reply.value
          }
          return yield* Deferred.await(answer)
        })

      /**
       * One frame to the peer, retried; the peer counts as dead once retries run out.
       * `early`: send copies before the call fails (only for frames a duplicate of which the
       * handler answers the same way: Data and Pull).
       */
      const exchange = (message: Uint8Array, early = false): Effect.Effect<Reply, CallError> =>
        Effect.gen(function* () {
          for (let attempt = 1; ; attempt++) {
            if (yield* ctx.isDead(routeId)) {
              return yield* unreachable(routeId, "the peer's route was marked dead")
            }
            const exit = yield* Effect.exit(tryFrame(message, early && options.resendEarly))
            if (Exit.isSuccess(exit)) {
              const decoded = decodeReply(exit.value)
              if (Result.isFailure(decoded)) {
                return yield* new TunnelProtocolError({
                  message: `the peer's reply does not decode: ${decoded.failure.message}`,
                })
              }
              markReleasable(exit.value)
              return decoded.success
            }
            const failure = Cause.findErrorOption(exit.cause)
            if (failure._tag === "None")
              return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
            if (failure.value.kind === "Rejected") {
              return yield* new TunnelProtocolError({
                message: `the network refused our frame: ${failure.value.message}`,
              })
            }
            if (attempt >= options.attempts || failure.value.kind === "Unreachable") {
              yield* ctx.markDead(routeId)
              return yield* unreachable(
                routeId,
                `no answer after ${attempt} tries (last: ${failure.value.message})`,
              )
            }
            yield* backoff(options.retryDelayMillis, attempt, 5_000)
          }
        })

      // Opening: protocol, proof, and the first part of the input.
      const sessionId = new Uint8Array(randomBytes(SESSION_ID_BYTES))
      const nonce = new Uint8Array(randomBytes(NONCE_BYTES))
      const protocolBytes = utf8.encode(protocol).length
      const first = yield* framer.next(frameSize - openHeaderBytes(protocolBytes))
      const open = encodeFrame({
        _tag: "Open",
        end: first.end,
        window,
        maxFrame: frameSize,
        timestamp: yield* Clock.currentTimeMillis,
        nonce,
        sessionId,
        protocol,
        mac: new Uint8Array(MAC_BYTES),
        payload: first.payload,
      })
      const macOffset = openMacOffset(protocolBytes)
      open.set(signOpen(key, routeId, open, macOffset), macOffset)

      let opened: Extract<Reply, { _tag: "Opened" }> | undefined
      for (let busy = 1; opened === undefined; busy++) {
        const answer = yield* exchange(open)
        if (answer._tag === "Opened") opened = answer
        else if (answer._tag === "Refused" && answer.reason === "Busy" && busy < options.attempts) {
          yield* backoff(options.retryDelayMillis * 5, busy, 5_000)
        } else if (answer._tag === "Refused") {
          return yield* refusalError(answer.reason, routeId, protocol)
        } else return yield* unexpected(answer, "Opened")
      }
      if (!(yield* verifyOpened(key, routeId, sessionId, nonce, opened.proof))) {
        return yield* new UnverifiedPeer({
          routeId,
          message: "the route answered but could not prove it holds our key",
        })
      }
      const granted = Math.min(window, opened.window)
      /** What the shortest call time needs for `targetRate`: the most a sized window keeps. */
      const sized = () => {
        const shortest = pacing.shortestCall()
        return shortest === undefined
          ? granted
          : sizeWindow(shortest, frameSize, options.targetRate, granted)
      }
      /**
       * Frames in flight now: the fixed window; or the sized one, paced to what the measured
       * delivery rate needs per shortest call (from `DEFAULT_WINDOW` up, growing while
       * replies keep up: a window past the bandwidth-delay product only queues at the
       * slowest link, and a capped uplink's queue drops frames).
       */
      const inFlight = () => {
        if (fixed !== undefined) return granted
        const most = sized()
        if (!options.paceWindow) return most
        return Math.min(most, Math.max(DEFAULT_WINDOW, pacing.window() ?? DEFAULT_WINDOW))
      }
      // One fiber per frame the window may need: the opening's time bounds it from above
      // (later calls only shorten the shortest call), and idle fibers cost a wake-up per frame.
      const lanes = fixed !== undefined ? granted : sized()
      /**
       * Whether frame `next` may go, `base` being the first frame not yet through and `past`
       * the frames already through beyond a hole. A paced window does not count those: a lost
       * frame (sent again after a call time or two) does not stall the frames behind it, up
       * to the granted window (what the handler keeps); a slow reader, which leaves no hole,
       * still holds everything back at the window.
       */
      const room = (next: number, base: number, past: number) =>
        fixed === undefined && options.paceWindow
          ? next - past < base + inFlight() && next < base + granted
          : next < base + inFlight()

      const sendClose = (reason: "Done" | "Cancelled") =>
        FiberSet.run(
          ctx.background,
          transport
            .send(routeId, encodeFrame({ _tag: "Close", sessionId, reason }))
            .pipe(Effect.ignore),
        )

      // ---- Handler → caller: `inFlight()` Pull calls in flight, reassembled in order.
      const out = yield* Queue.bounded<Uint8Array, CallError | E | Cause.Done>(
        fixed === undefined ? Math.min(granted, DEFAULT_WINDOW) : granted,
      )
      const received = new Map<number, Down>()
      const signal = new Signal()
      let contiguous = 0
      let delivered = 0
      let nextPull = 0
      let end: number | undefined
      let flowing = false

      const take = (seq: number, down: Down) => {
        if (down._tag === "Gone" || seq < contiguous || received.has(seq)) return
        received.set(seq, down)
        if (down._tag === "Failure" || down.end) end = end === undefined ? seq : Math.min(end, seq)
        while (received.has(contiguous)) contiguous++
        flowing = true
        signal.notify()
      }
      if (opened.first !== undefined) take(0, opened.first)
      // Until the handler's output starts, one Pull is enough (it waits at the handler).
      const pastEnd = () => end !== undefined && nextPull > end

      const puller = (index: number) =>
        Effect.gen(function* () {
          while (true) {
            yield* signal.until(
              () =>
                pastEnd() ||
                (room(nextPull, delivered, received.size - (contiguous - delivered)) &&
                  (index === 0 || flowing)),
            )
            if (pastEnd()) return
            const seq = nextPull++
            if (seq < contiguous || received.has(seq)) continue
            for (let waits = 1; ; waits++) {
              const mark = pacing.mark()
              const answer = yield* exchange(
                encodeFrame({ _tag: "Pull", sessionId, seq, acked: contiguous }),
                true,
              )
              if (answer._tag === "Chunk" && answer.seq === seq) {
                if (answer.down._tag !== "Gone") pacing.delivered(mark)
                take(seq, answer.down)
                break
              }
              if (answer._tag === "Wait") {
                if (end !== undefined && seq > end) break
                yield* backoff(10, waits, 500)
                continue
              }
              if (answer._tag === "Refused") {
                // The handler ends the session once we acknowledged its last frame: a Pull
                // past that frame, sent before we knew where the output ends, finds none.
                if (answer.reason === "UnknownSession" && end !== undefined && seq > end) break
                return yield* refusalError(answer.reason, routeId, protocol)
              }
              return yield* unexpected(answer, `Chunk ${seq}`)
            }
          }
        })

      const deliver = Effect.gen(function* () {
        while (true) {
          yield* signal.until(() => received.has(delivered))
          const down = received.get(delivered) as Down
          received.delete(delivered)
          delivered++
          signal.notify()
          if (down._tag === "Failure") {
            return yield* new RemoteError({ protocol, tag: down.tag, message: down.message })
          }
          if (down._tag === "Bytes") {
            if (down.payload.length > 0) yield* Queue.offer(out, down.payload)
            if (down.end) return
          }
        }
      })

      // ---- Caller → handler: `inFlight()` Data calls in flight; seq 0 rode in the opening.
      const upload = Effect.gen(function* () {
        if (first.end) return
        const capacity = frameSize - DATA_HEADER_BYTES
        const acked = new Set<number>()
        const cutting = Semaphore.makeUnsafe(1)
        const upSignal = new Signal()
        let nextSeq = 1
        let lowest = 1
        let last: number | undefined
        const finished = () => last !== undefined && nextSeq > last

        const sender = Effect.gen(function* () {
          while (true) {
            const piece = yield* cutting.withPermit(
              Effect.gen(function* () {
                yield* upSignal.until(() => finished() || room(nextSeq, lowest, acked.size))
                if (finished()) return undefined
                const next = yield* framer.next(capacity)
                const seq = nextSeq++
                if (next.end) last = seq
                upSignal.notify()
                return { seq, ...next }
              }),
            )
            if (piece === undefined) return
            const frame = encodeFrame({
              _tag: "Data",
              end: piece.end,
              sessionId,
              seq: piece.seq,
              payload: piece.payload,
            })
            for (let waits = 1; ; waits++) {
              const mark = pacing.mark()
              const answer = yield* exchange(frame, true)
              if (answer._tag === "Ack" && answer.seq === piece.seq) {
                pacing.delivered(mark)
                break
              }
              if (answer._tag === "Wait") {
                yield* backoff(10, waits, 500)
                continue
              }
              if (answer._tag === "Refused") {
                return yield* refusalError(answer.reason, routeId, protocol)
              }
              return yield* unexpected(answer, `Ack ${piece.seq}`)
            }
            acked.add(piece.seq)
            while (acked.delete(lowest)) lowest++
            upSignal.notify()
          }
        })
        yield* Effect.all(
          Array.from({ length: lanes }, () => sender),
          {
            concurrency: "unbounded",
            discard: true,
          },
        )
      })

      const pullers = Effect.all(
        Array.from({ length: lanes }, (_, i) => puller(i)),
        { concurrency: "unbounded", discard: true },
      )
      // Done when the last frame is delivered; a failure anywhere fails the call.
      const session = Effect.raceFirst(
        deliver,
        Effect.andThen(
          Effect.all([pullers, upload], { concurrency: "unbounded", discard: true }),
          Effect.never,
        ),
      )
      let complete = false
      yield* Effect.addFinalizer(() => sendClose(complete ? "Done" : "Cancelled"))
      yield* session.pipe(
        Effect.exit,
        Effect.flatMap((exit) => {
          if (Exit.isFailure(exit)) return Queue.failCause(out, exit.cause)
          complete = true
          return Queue.end(out)
        }),
        Effect.forkScoped,
      )
      return Stream.fromQueue(out)
    }),
  )
