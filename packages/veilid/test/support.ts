// Waiting on a real network: every wait has a deadline, nothing sleeps for a fixed time.
import { readdirSync, readFileSync } from "node:fs"
import { Data, Duration, Effect, Option, Schedule, Stream } from "effect"
import type { VeilidError, VeilidUpdate } from "../src/index.ts"

type UpdateOf<Tag extends VeilidUpdate["_tag"]> = Extract<VeilidUpdate, { readonly _tag: Tag }>

/** Nothing matched before the deadline; `last` says what was seen instead. */
export class DeadlineExceeded extends Data.TaggedError("DeadlineExceeded")<{
  readonly message: string
}> {}

/**
 * The first update with `tag` (and matching `where`), waited for with a deadline. Subscribe
 * (`veilid.subscribe`) before the action that causes the update.
 */
export const nextUpdate = <Tag extends VeilidUpdate["_tag"]>(
  updates: Stream.Stream<VeilidUpdate>,
  tag: Tag,
  where: (u: UpdateOf<Tag>) => boolean = () => true,
  deadline: Duration.Input = "60 seconds",
) =>
  updates.pipe(
    Stream.filter((u): u is UpdateOf<Tag> => u._tag === tag && where(u as UpdateOf<Tag>)),
    Stream.runHead,
    Effect.flatMap((found) => Effect.fromOption(found)),
    Effect.timeoutOrElse({
      duration: deadline,
      orElse: () =>
        Effect.fail(
          new DeadlineExceeded({
            message: `no ${tag} update within ${Duration.format(Duration.fromInputUnsafe(deadline))}`,
          }),
        ),
    }),
  )

/** Errors veilid-core documents as retryable: the network may answer on a later attempt. */
export const isRetryable = (error: VeilidError): boolean =>
  error._tag === "VeilidTryAgain" ||
  error._tag === "VeilidTimeout" ||
  error._tag === "VeilidNoConnection"

class NotYet extends Data.TaggedError("NotYet")<{ readonly last: string }> {}

/**
 * Runs `attempt` until `done` holds for its result, retrying retryable Veilid errors too,
 * and fails when `deadline` passes first. For DHT reads: a value set by one node reaches
 * the others' view of the network only after some round trips.
 */
export const eventually = <A, R>(
  what: string,
  attempt: Effect.Effect<A, VeilidError, R>,
  done: (a: A) => boolean,
  deadline: Duration.Input = "60 seconds",
) =>
  attempt.pipe(
    Effect.flatMap((a) =>
      done(a) ? Effect.succeed(a) : Effect.fail(new NotYet({ last: describe(a) })),
    ),
    Effect.retry({
      schedule: Schedule.spaced("300 millis"),
      while: (e) => e._tag === "NotYet" || isRetryable(e),
    }),
    Effect.timeoutOrElse({
      duration: deadline,
      orElse: () =>
        Effect.fail(
          new DeadlineExceeded({
            message: `${what}: not done within ${Duration.format(Duration.fromInputUnsafe(deadline))}`,
          }),
        ),
    }),
  )

/**
 * Retries an operation veilid-core may answer with a retryable error (a timeout under load,
 * no route yet) until it succeeds or the deadline passes.
 */
export const untilSuccess = <A, R>(
  what: string,
  attempt: Effect.Effect<A, VeilidError, R>,
  deadline: Duration.Input = "60 seconds",
) => eventually(what, attempt, () => true, deadline)

const describe = (a: unknown): string => {
  if (Option.isOption(a)) return Option.isNone(a) ? "None" : "Some(...)"
  return typeof a === "object" ? "an object" : String(a)
}

/** The threads of this process, by name (from /proc/self/task/<tid>/comm). */
export const processThreads = (): ReadonlyArray<string> =>
  readdirSync("/proc/self/task").flatMap((tid) => {
    try {
      return [readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim()]
    } catch {
      return [] // the thread ended between readdir and read
    }
  })

/** Thread names counted: `{ "tokio-runtime-w": 2, ... }`, for failure messages. */
export const threadCensus = (names: ReadonlyArray<string>): Record<string, number> => {
  const census: Record<string, number> = {}
  for (const name of names) census[name] = (census[name] ?? 0) + 1
  return census
}

/** Direct children of this process (all its threads' children). */
export const childProcesses = (): ReadonlyArray<number> =>
  readdirSync("/proc/self/task").flatMap((tid) => {
    try {
      const raw = readFileSync(`/proc/self/task/${tid}/children`, "utf8").trim()
      return raw === "" ? [] : raw.split(" ").map(Number)
    } catch {
      return []
    }
  })

export const randomBytes = (length: number): Uint8Array => {
  const bytes = new Uint8Array(length)
  // getRandomValues fills at most 65,536 bytes per call.
  for (let offset = 0; offset < length; offset += 65_536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(length, offset + 65_536)))
  }
  return bytes
}

export const text = (s: string) => new TextEncoder().encode(s)
export const untext = (b: Uint8Array) => new TextDecoder().decode(b)
