// What the compliance topics share: the participants, the record definitions they
// write, a new record of them, and helpers for failures and watch events.
import { randomBytes } from "node:crypto"
import type { Vitest } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { Context, Duration, Effect, Layer, Option, Queue, Schema, type Scope, Stream } from "effect"
import { defineRecord } from "../definition.ts"
import type { DhtRecordsError } from "../errors.ts"
import { DhtRecords, type DhtRecordsShape } from "../records.ts"
import type { WatchEvent } from "../types.ts"

export interface ComplianceParticipants {
  /** Two participants on the same DHT, as two members on two nodes. */
  readonly a: DhtRecordsShape
  readonly b: DhtRecordsShape
}

/** The layer under test, once per participant: two members on two nodes of the same DHT. */
export interface ComplianceLayers {
  readonly a: Layer.Layer<DhtRecords, unknown>
  readonly b: Layer.Layer<DhtRecords, unknown>
}

export interface ComplianceOptions {
  /**
   * Makes the layer of each participant in the given scope, which holds what they share
   * (a memory network, a testnet); the suite builds both layers once in that scope.
   */
  readonly layers: Effect.Effect<ComplianceLayers, unknown, Scope.Scope>
  /** Per-test limit in ms (default 120 s). */
  readonly timeout?: number
  /** How long to wait for a watch to report a change (default 60 s). */
  readonly eventDeadline?: Duration.Input
}

export class Participants extends Context.Service<Participants, ComplianceParticipants>()(
  "@save-dweb/dht-records/compliance/Participants",
) {}

/** Builds both participants' layers (concurrently: a Veilid node takes a while to attach). */
export const participantsOf = (layers: ComplianceOptions["layers"]) =>
  Effect.gen(function* () {
    const { a, b } = yield* layers
    const [contextA, contextB] = yield* Effect.all([Layer.build(a), Layer.build(b)], {
      concurrency: 2,
    })
    return { a: Context.get(contextA, DhtRecords), b: Context.get(contextB, DhtRecords) }
  })

/** The `it` of the suite's layer: every test reads the participants from it. */
export type ComplianceIt = Vitest.MethodsNonLive<Participants>

const Note = Schema.Struct({ text: Schema.String, n: Schema.Number })
export const Doc = defineRecord("compliance-doc", { 0: Schema.String, "1..": Note })
export const Numbers = defineRecord("compliance-numbers", { "0..": Schema.Number })
export const Slots = defineRecord("compliance-slots", { 0: Schema.String, "1..": Schema.String })

export const newKey = SecretKey.generate

/**
 * A `Doc` record of `subkeys` DFLT subkeys that `a` created under a new encryption key,
 * with both participants (`b` opens it with that key once a value is written).
 */
export const newDoc = (subkeys: number) =>
  Effect.gen(function* () {
    const { a, b } = yield* Participants
    const encryptionKey = yield* newKey
    const record = yield* a.create(Doc, { schema: { kind: "DFLT", subkeys }, encryptionKey })
    return { a, b, encryptionKey, record }
  })

/** A record key no one created: `VLD0:` and 32 random bytes. */
export const unknownKey = () => `VLD0:${randomBytes(32).toString("base64url")}`

export const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.result(effect), (result) =>
    result._tag === "Failure"
      ? Effect.succeed(result.failure)
      : Effect.die(new Error(`expected a failure, got ${JSON.stringify(result.success)}`)),
  )

export const valueIn = <A>(entry: Option.Option<{ readonly value: A }>) =>
  Option.map(entry, (e) => e.value)

export const changedTo =
  <A>(subkey: number, value: A) =>
  (event: WatchEvent<unknown>) =>
    event._tag === "Changed" &&
    event.subkey === subkey &&
    JSON.stringify(event.value) === JSON.stringify(value)

/** The suite's limits and the watch helpers that wait with its event deadline. */
export const makeSuite = (options: ComplianceOptions) => {
  const timeout = options.timeout ?? 120_000
  const deadline = options.eventDeadline ?? Duration.seconds(60)
  const noEvent = () =>
    Effect.die(
      new Error(
        `no matching watch event within ${Duration.format(Duration.fromInputUnsafe(deadline))}`,
      ),
    )

  /** The first watch event matching `where`, waited for with the event deadline. */
  const nextEvent = <A>(
    stream: Stream.Stream<WatchEvent<A>, DhtRecordsError>,
    where: (event: WatchEvent<A>) => boolean,
  ) =>
    stream.pipe(
      Stream.filter(where),
      Stream.runHead,
      Effect.flatMap(Effect.fromOption),
      Effect.timeoutOrElse({ duration: deadline, orElse: noEvent }),
    )

  /** The next event in `queue` matching `where` (earlier ones are dropped), with the event deadline. */
  const nextFrom = <A>(
    queue: Queue.Queue<WatchEvent<A>>,
    where: (event: WatchEvent<A>) => boolean,
  ) =>
    Effect.gen(function* () {
      while (true) {
        const event = yield* Queue.take(queue)
        if (where(event)) return event
      }
    }).pipe(Effect.timeoutOrElse({ duration: deadline, orElse: noEvent }))

  return { timeout, nextEvent, nextFrom }
}

export type Suite = ReturnType<typeof makeSuite>
