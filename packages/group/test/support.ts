// Participants on one in-memory DHT, each with its own local copies (a node of its own),
// and waits with deadlines.
import {
  type DhtRecordsShape,
  MemoryDhtNetwork,
  type MemoryDhtNetworkShape,
  makeMemoryDhtRecords,
} from "@save-dweb/dht-records"
import { type Cause, Duration, Effect, Queue, type Scope, Stream } from "effect"
import { type GroupsShape, makeGroups } from "../src/index.ts"

export { failureOf } from "@save-dweb/test-support"

export interface Participant {
  readonly records: DhtRecordsShape
  readonly groups: GroupsShape
}

export const memoryNetwork = MemoryDhtNetwork.make()

export const participant = (
  network: MemoryDhtNetworkShape,
): Effect.Effect<Participant, never, Scope.Scope> =>
  Effect.map(makeMemoryDhtRecords(network), (records) => ({ records, groups: makeGroups(records) }))

/** Elements of `stream`, collected into a queue by a fiber of the current scope. */
export const collect = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<A, E | Cause.Done>()
    yield* stream.pipe(
      Stream.runForEach((a) => Queue.offer(queue, a)),
      Effect.matchCauseEffect({
        onSuccess: () => Queue.end(queue),
        onFailure: (cause) => Queue.failCause(queue, cause),
      }),
      Effect.forkScoped,
    )
    return queue
  })

/** The next element in `queue` matching `where` (earlier ones dropped), within `deadline`. */
export const next = <A, E>(
  queue: Queue.Queue<A, E | Cause.Done>,
  where: (a: A) => boolean,
  deadline: Duration.Input = Duration.seconds(10),
) =>
  Effect.gen(function* () {
    while (true) {
      const a = yield* Queue.take(queue)
      if (where(a)) return a
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: deadline,
      orElse: () => Effect.die(new Error("no matching element before the deadline")),
    }),
  )
