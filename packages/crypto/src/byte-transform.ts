// A stateful byte transform as a Stream operator, with bounded memory: each
// pull emits at most about OUTPUT_BUDGET bytes, however large the input
// chunks are, and the transform holds at most one frame of its own.
import { Array as Arr, Cause, Effect, Pull, Scope, Stream } from "effect"

const OUTPUT_BUDGET = 1 << 20

export interface Sink {
  readonly chunks: Array<Uint8Array>
  bytes: number
}

export const emit = (sink: Sink, bytes: Uint8Array): void => {
  if (bytes.length === 0) return
  sink.chunks.push(bytes)
  sink.bytes += bytes.length
}

export const isFull = (sink: Sink): boolean => sink.bytes >= OUTPUT_BUDGET

export interface ByteTransform<E> {
  /**
   * Consumes `input` from `offset`, emitting into `sink`, until the input is
   * used up or the sink `isFull`. Returns the new offset, or an error.
   */
  readonly write: (input: Uint8Array, offset: number, sink: Sink) => number | E
  /** The input ended: emit what is left, or fail. */
  readonly end: (sink: Sink) => E | undefined
  /** Wipes and frees what the transform holds; runs however the stream ends. */
  readonly release: () => void
}

const emptySink = (): Sink => ({ chunks: [], bytes: 0 })

/**
 * Runs a fresh `ByteTransform` (from `make`, once per run of the stream) over
 * a byte stream.
 */
export const transformBytes =
  <E2>(make: () => ByteTransform<E2>) =>
  <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | E2, R> =>
    Stream.transformPull(self, (pull, scope) =>
      Effect.gen(function* () {
        const transform = make()
        yield* Scope.addFinalizer(scope, Effect.sync(transform.release))
        let inputs: ReadonlyArray<Uint8Array> = []
        let index = 0
        let offset = 0
        let ended = false

        const finish = (): Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, E2> => {
          ended = true
          const sink = emptySink()
          const error = transform.end(sink)
          if (error !== undefined) return Effect.fail(error)
          return Arr.isReadonlyArrayNonEmpty(sink.chunks)
            ? Effect.succeed(sink.chunks)
            : Cause.done()
        }

        const pump: Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, E | E2> = Effect.suspend(
          () => {
            if (ended) return Cause.done()
            const sink = emptySink()
            while (index < inputs.length && !isFull(sink)) {
              const input = inputs[index] as Uint8Array
              const next = transform.write(input, offset, sink)
              if (typeof next !== "number") return Effect.fail(next)
              if (next >= input.length) {
                index++
                offset = 0
              } else {
                offset = next
              }
            }
            if (Arr.isReadonlyArrayNonEmpty(sink.chunks)) return Effect.succeed(sink.chunks)
            return pull.pipe(
              Pull.catchDone(() => Effect.succeed(undefined)),
              Effect.flatMap((chunk) => {
                if (chunk === undefined) return finish()
                inputs = chunk
                index = 0
                offset = 0
                return pump
              }),
            )
          },
        )
        return pump
      }),
    )
