// The handler's half of the protocol: checks openings, keeps sessions, feeds the caller's
// frames to the handler in order and cuts its output into frames on demand.
import type { SecretKey } from "@save-dweb/crypto"
import { Cause, Clock, Effect, Exit, Option, Queue, Result, Schedule, Scope, Stream } from "effect"
import { NonceCache, signOpened, verifyOpen } from "./auth.ts"
import {
  CHUNK_HEADER_BYTES,
  type Down,
  decodeRequest,
  encodeFrame,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_FRAME_BYTES,
  OPENED_HEADER_BYTES,
  openMacOffset,
  type Reply,
  type Request,
  utf8Prefix,
} from "./frame.ts"
import { queueFramer } from "./framer.ts"
import type { ResolvedOptions } from "./options.ts"
import { Signal } from "./signal.ts"
import type { RouteId } from "./transport.ts"

/** What a handler sees of a call. */
export interface IncomingCall {
  readonly protocol: string
  /** Which of the handler's keys the caller proved (an index into `keys` of `serve`). */
  readonly keyIndex: number
  /** The caller's bytes, in order; ends when the caller's input ends. Read it once. */
  readonly input: Stream.Stream<Uint8Array>
}

export interface Registered {
  readonly keys: ReadonlyArray<SecretKey>
  /** The handler with its context already provided. */
  readonly run: (call: IncomingCall) => Stream.Stream<Uint8Array, unknown>
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")
const utf8Decoder = new TextDecoder()

/** A handler's failure as it travels to the caller. */
class HandlerFailure {
  readonly tag: string
  readonly message: string
  constructor(tag: string, message: string) {
    this.tag = tag
    this.message = message
  }
}

const describeFailure = (cause: Cause.Cause<unknown>): HandlerFailure => {
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error)) {
    const e = error.value as { readonly _tag?: unknown; readonly message?: unknown } | null
    const tag = typeof e?._tag === "string" ? e._tag : "Error"
    const message = typeof e?.message === "string" ? e.message : String(error.value)
    return new HandlerFailure(tag, message)
  }
  const defect = Cause.findDefect(cause)
  if (Result.isSuccess(defect)) {
    const d = defect.success
    return new HandlerFailure("Defect", d instanceof Error ? d.message : String(d))
  }
  return new HandlerFailure("Interrupted", "the handler was interrupted")
}

/** A string cut to `max` UTF-8 bytes at a character boundary. */
const clip = (s: string, max: number) => utf8Decoder.decode(utf8Prefix(s, max))

interface InFrame {
  readonly payload: Uint8Array
  readonly end: boolean
}

interface Session {
  readonly key: string
  readonly sessionId: Uint8Array
  readonly nonce: Uint8Array
  readonly protocol: string
  readonly window: number
  readonly frameSize: number
  readonly proof: Uint8Array
  readonly signal: Signal
  readonly scope: Scope.Closeable
  lastActivity: number
  closed: boolean
  // Caller → handler. Sequence number 0 rode in the opening.
  readonly inFrames: Map<number, InFrame>
  inConsumed: number
  inEnd: number | undefined
  // Handler → caller.
  readonly outFrames: Map<number, Down>
  outProduced: number
  outRequested: number
  outEnd: number | undefined
  acked: number
}

export interface HandlerSide {
  readonly onCall: (routeId: RouteId, message: Uint8Array) => Effect.Effect<Uint8Array>
  readonly onMessage: (routeId: RouteId, message: Uint8Array) => Effect.Effect<void>
  /** Open sessions (for tests and diagnostics). */
  readonly sessionCount: () => number
}

const reply = (frame: Reply) => encodeFrame(frame)
const refused = (reason: Extract<Reply, { _tag: "Refused" }>["reason"]) =>
  reply({ _tag: "Refused", reason })

export const makeHandlerSide = Effect.fnUntraced(function* (
  options: ResolvedOptions,
  handlers: ReadonlyMap<string, Registered>,
) {
  const serviceScope = yield* Effect.scope
  const sessions = new Map<string, Session>()
  const nonces = new NonceCache(options.replayWindowMillis, options.maxNonces)
  let active = 0
  let held = 0

  const closeSession = (s: Session) =>
    Effect.suspend(() => {
      if (s.closed) return Effect.void
      s.closed = true
      if (sessions.get(s.key) === s) sessions.delete(s.key)
      s.signal.notify()
      return Scope.close(s.scope, Exit.void)
    })

  /**
   * Holds the current call until `ready()` or the hold time is up. Every held call keeps a
   * veilid-core RPC worker busy, so at most `maxHeldCalls` are held at once.
   */
  const hold = (s: Session, ready: () => boolean) =>
    Effect.suspend(() => {
      if (ready()) return Effect.succeed(true)
      if (held >= options.maxHeldCalls) return Effect.succeed(false)
      held++
      return s.signal
        .within(() => s.closed || ready(), options.holdTimeMillis)
        .pipe(Effect.ensuring(Effect.sync(() => held--)))
    })

  /** The caller's frames in order, as the handler's input stream. */
  const inputOf = (s: Session): Stream.Stream<Uint8Array> =>
    Stream.fromEffectRepeat(
      Effect.gen(function* () {
        while (true) {
          if (s.inEnd !== undefined && s.inConsumed > s.inEnd) return yield* Cause.done()
          yield* s.signal.until(() => s.closed || s.inFrames.has(s.inConsumed))
          const frame = s.inFrames.get(s.inConsumed)
          if (frame === undefined) return yield* Cause.done()
          s.inFrames.delete(s.inConsumed)
          s.inConsumed++
          s.signal.notify()
          if (frame.payload.length > 0) return frame.payload
        }
      }),
    )

  /** Runs the handler and cuts its output into frames as the caller asks for them. */
  const startHandler = (s: Session, registered: Registered, keyIndex: number) =>
    Effect.gen(function* () {
      const output = yield* Queue.bounded<Uint8Array, HandlerFailure | Cause.Done>(8)
      const call: IncomingCall = { protocol: s.protocol, keyIndex, input: inputOf(s) }
      yield* Stream.suspend(() => registered.run(call)).pipe(
        Stream.catchCause((cause) => {
          const failure = describeFailure(cause)
          const log =
            failure.tag === "Defect"
              ? Effect.logWarning(`tunnel handler for ${s.protocol} died`, cause)
              : Effect.void
          return Stream.fromEffect(Effect.andThen(log, Effect.fail(failure)))
        }),
        Stream.runIntoQueue(output),
        Effect.forkIn(s.scope),
      )
      const framer = queueFramer(output)
      const produce = Effect.gen(function* () {
        while (true) {
          yield* s.signal.until(() => s.outProduced < s.outRequested)
          const seq = s.outProduced
          const capacity = s.frameSize - (seq === 0 ? OPENED_HEADER_BYTES : CHUNK_HEADER_BYTES)
          const piece = yield* Effect.exit(framer.next(capacity))
          let down: Down
          if (Exit.isSuccess(piece)) {
            down = { _tag: "Bytes", end: piece.value.end, payload: piece.value.payload }
          } else {
            const found = Cause.findErrorOption(piece.cause)
            const failure = Option.isSome(found) ? found.value : describeFailure(piece.cause)
            const room = Math.min(MAX_ERROR_MESSAGE_BYTES, capacity - 1 - 64)
            down = { _tag: "Failure", tag: failure.tag, message: clip(failure.message, room) }
          }
          s.outFrames.set(seq, down)
          s.outProduced++
          const last = down._tag === "Failure" || (down._tag === "Bytes" && down.end)
          if (last) s.outEnd = seq
          s.signal.notify()
          if (last) return
        }
      })
      yield* Effect.forkIn(produce, s.scope)
    })

  const onOpen = (routeId: RouteId, frame: Extract<Request, { _tag: "Open" }>, raw: Uint8Array) =>
    Effect.gen(function* () {
      const registered = handlers.get(frame.protocol)
      // A stranger learns nothing: the same refusal whether or not the protocol exists.
      const keys = registered?.keys ?? [...handlers.values()].flatMap((h) => h.keys)
      const macOffset = openMacOffset(new TextEncoder().encode(frame.protocol).length)
      const keyIndex = yield* verifyOpen(keys, routeId, raw, macOffset)
      if (keyIndex < 0) return refused("Unauthorized")
      const key = keys[keyIndex] as SecretKey
      const sessionKey = hex(frame.sessionId)
      const existing = sessions.get(sessionKey)
      if (existing !== undefined) {
        // The caller retried an opening whose reply was lost: answer it again.
        if (hex(existing.nonce) !== hex(frame.nonce)) return refused("BadRequest")
        existing.lastActivity = yield* Clock.currentTimeMillis
        return reply({
          _tag: "Opened",
          window: existing.window,
          proof: existing.proof,
          first: existing.acked === 0 ? existing.outFrames.get(0) : undefined,
        })
      }
      const now = yield* Clock.currentTimeMillis
      const fresh = nonces.check(frame.nonce, frame.timestamp, now)
      if (fresh === "Stale" || fresh === "Replayed") return refused("Unauthorized")
      if (fresh === "Full") return refused("Busy")
      if (registered === undefined) return refused("UnknownProtocol")
      // Refused before its nonce is recorded: the caller may retry this very opening.
      if (sessions.size >= options.maxSessions) return refused("Busy")
      nonces.record(frame.nonce, frame.timestamp)

      const s: Session = {
        key: sessionKey,
        sessionId: frame.sessionId,
        nonce: frame.nonce,
        protocol: frame.protocol,
        window: Math.min(frame.window, options.maxWindow),
        frameSize: Math.min(frame.maxFrame, MAX_FRAME_BYTES),
        proof: signOpened(key, routeId, frame.sessionId, frame.nonce),
        signal: new Signal(),
        scope: yield* Scope.fork(serviceScope),
        lastActivity: now,
        closed: false,
        inFrames: new Map([[0, { payload: frame.payload, end: frame.end }]]),
        inConsumed: 0,
        inEnd: frame.end ? 0 : undefined,
        outFrames: new Map(),
        outProduced: 0,
        outRequested: 1,
        outEnd: undefined,
        acked: 0,
      }
      sessions.set(sessionKey, s)
      yield* startHandler(s, registered, keyIndex)
      // A whole request in the opening: wait briefly so a quick answer rides in the reply.
      if (frame.end) yield* hold(s, () => s.outFrames.has(0))
      return reply({
        _tag: "Opened",
        window: s.window,
        proof: s.proof,
        first: s.outFrames.get(0),
      })
    })

  const onData = (s: Session, frame: Extract<Request, { _tag: "Data" }>) =>
    Effect.gen(function* () {
      const { seq } = frame
      if (s.inEnd !== undefined && seq > s.inEnd) return refused("BadRequest")
      if (seq < s.inConsumed || s.inFrames.has(seq)) return reply({ _tag: "Ack", seq })
      // Acknowledge only what there is room for: a slow handler slows its caller down.
      const room = yield* hold(s, () => seq < s.inConsumed + s.window)
      if (s.closed) return refused("UnknownSession")
      // A copy of this frame (an early resend) may have been taken while this one waited.
      if (seq < s.inConsumed || s.inFrames.has(seq)) return reply({ _tag: "Ack", seq })
      if (!room) return reply({ _tag: "Wait", seq })
      s.inFrames.set(seq, { payload: frame.payload, end: frame.end })
      if (frame.end) s.inEnd = seq
      s.signal.notify()
      return reply({ _tag: "Ack", seq })
    })

  const onPull = (s: Session, frame: Extract<Request, { _tag: "Pull" }>) =>
    Effect.gen(function* () {
      const { seq, acked } = frame
      if (acked > s.acked) {
        for (let k = s.acked; k < acked; k++) s.outFrames.delete(k)
        s.acked = acked
      }
      if (seq >= acked + s.window) return refused("BadRequest")
      const gone = () => (s.outEnd !== undefined && seq > s.outEnd) || seq < s.acked
      if (gone()) {
        if (s.outEnd !== undefined && s.acked > s.outEnd) yield* closeSession(s)
        return reply({ _tag: "Chunk", seq, down: { _tag: "Gone" } })
      }
      if (seq >= s.outRequested) {
        s.outRequested = seq + 1
        s.signal.notify()
      }
      yield* hold(s, () => s.outFrames.has(seq) || gone())
      if (s.closed) return refused("UnknownSession")
      const down = s.outFrames.get(seq)
      if (down !== undefined) return reply({ _tag: "Chunk", seq, down })
      if (gone()) return reply({ _tag: "Chunk", seq, down: { _tag: "Gone" } })
      return reply({ _tag: "Wait", seq })
    })

  const handle = (routeId: RouteId, message: Uint8Array) =>
    Effect.gen(function* () {
      const decoded = decodeRequest(message)
      if (Result.isFailure(decoded)) {
        return refused(
          decoded.failure.reason === "UnsupportedVersion" ? "UnsupportedVersion" : "BadRequest",
        )
      }
      const frame = decoded.success
      if (frame._tag === "Open") {
        if (active > options.maxConcurrentCalls) return refused("Busy")
        return yield* onOpen(routeId, frame, message)
      }
      const s = sessions.get(hex(frame.sessionId))
      if (s === undefined || s.closed) return refused("UnknownSession")
      s.lastActivity = yield* Clock.currentTimeMillis
      switch (frame._tag) {
        case "Data":
          if (active > options.maxConcurrentCalls) return reply({ _tag: "Wait", seq: frame.seq })
          return yield* onData(s, frame)
        case "Pull":
          if (active > options.maxConcurrentCalls) return reply({ _tag: "Wait", seq: frame.seq })
          return yield* onPull(s, frame)
        case "Close":
          yield* closeSession(s)
          return reply({ _tag: "Ack", seq: 0 })
      }
    })

  const onCall = (routeId: RouteId, message: Uint8Array) =>
    Effect.suspend(() => {
      active++
      return handle(routeId, message).pipe(
        Effect.ensuring(Effect.sync(() => active--)),
        // Whatever goes wrong here must not take the node down: the caller gets a refusal.
        Effect.catchCause((cause) =>
          Effect.as(
            Effect.logWarning("tunnel frame handling failed", cause),
            refused("BadRequest"),
          ),
        ),
      )
    })

  const onMessage = (routeId: RouteId, message: Uint8Array) =>
    Effect.asVoid(onCall(routeId, message))

  const sweep = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    nonces.purge(now)
    for (const s of [...sessions.values()]) {
      if (now - s.lastActivity > options.sessionIdleTimeoutMillis) yield* closeSession(s)
    }
  })
  yield* sweep.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.forkScoped)
  yield* Effect.addFinalizer(() =>
    Effect.forEach([...sessions.values()], closeSession, { discard: true }),
  )

  const side: HandlerSide = { onCall, onMessage, sessionCount: () => sessions.size }
  return side
})
