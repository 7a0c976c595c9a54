// Cuts a byte source into frame payloads. A frame takes what is there (at least one byte
// or the end) without waiting to fill up, so an interactive exchange never stalls; in a
// bulk transfer the source runs ahead of the network and frames leave full.
import { type Cause, Effect, Exit, Pull, Queue } from "effect"

export interface Piece {
  readonly payload: Uint8Array
  /** The source is finished: nothing comes after this payload (which may be empty). */
  readonly end: boolean
}

export interface Framer<E> {
  /** The next payload of at most `capacity` bytes. */
  readonly next: (capacity: number) => Effect.Effect<Piece, E>
}

/** Frames over bytes known in full (a request body). */
export const bytesFramer = (bytes: Uint8Array): Framer<never> => {
  let at = 0
  return {
    next: (capacity) =>
      Effect.sync(() => {
        const payload = bytes.subarray(at, at + capacity)
        at += payload.length
        return { payload, end: at >= bytes.length }
      }),
  }
}

/** Joins `parts` (`size` bytes in all); a single part is returned as it is. */
export const joinBytes = (parts: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  if (parts.length === 1) return parts[0] as Uint8Array
  const out = new Uint8Array(size)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Times to let the producer run before sending a part-filled frame (to see its end). */
const YIELDS_BEFORE_SENDING = 2

/** Frames over a queue a stream runs into (`Stream.toQueue`). */
export const queueFramer = <E>(queue: Queue.Dequeue<Uint8Array, E | Cause.Done>): Framer<E> => {
  let leftover: Uint8Array | undefined
  let ended = false
  // A source failure seen after some bytes: those bytes go out first, the failure next time.
  let failure: Cause.Cause<E> | undefined
  return {
    next: (capacity) =>
      Effect.gen(function* () {
        if (failure !== undefined) return yield* Effect.failCause(failure)
        const parts: Array<Uint8Array> = []
        let size = 0
        const add = (chunk: Uint8Array) => {
          if (chunk.length === 0) return
          const room = capacity - size
          if (chunk.length > room) {
            parts.push(chunk.subarray(0, room))
            leftover = chunk.subarray(room)
            size = capacity
          } else {
            parts.push(chunk)
            size += chunk.length
          }
        }
        /** Applies a taken exit; false when the source ended. Fails with the source's error. */
        const apply = (exit: Exit.Exit<Uint8Array, E | Cause.Done>) => {
          if (Exit.isSuccess(exit)) {
            add(exit.value)
            return Effect.void
          }
          const filtered = Pull.filterDone(exit.cause)
          if (filtered._tag === "Success") {
            ended = true
            return Effect.void
          }
          if (size === 0) return Effect.failCause(filtered.failure)
          failure = filtered.failure
          return Effect.void
        }

        if (leftover !== undefined) {
          const rest = leftover
          leftover = undefined
          add(rest)
        }
        while (size === 0 && !ended && failure === undefined)
          yield* apply(yield* Effect.exit(Queue.take(queue)))
        let yields = 0
        while (size < capacity && !ended && leftover === undefined && failure === undefined) {
          const taken = Queue.takeUnsafe(queue)
          if (taken !== undefined) {
            yield* apply(taken)
            continue
          }
          if (yields++ >= YIELDS_BEFORE_SENDING) break
          yield* Effect.yieldNow
        }
        // A full frame may be the last one: look at what comes next, so that the end rides
        // on this frame instead of an empty one of its own.
        if (!ended && leftover === undefined && failure === undefined) {
          const taken = Queue.takeUnsafe(queue)
          if (taken !== undefined) {
            if (Exit.isSuccess(taken)) {
              if (taken.value.length > 0) leftover = taken.value
            } else yield* apply(taken)
          }
        }
        return { payload: joinBytes(parts, size), end: ended && leftover === undefined }
      }),
  }
}
