import type { SecretKey } from "@save-dweb/crypto"
import {
  type DhtRecordDescriptor,
  type DhtSchema,
  type SubkeyRanges,
  type ValueData,
  Veilid,
  type VeilidError,
  VeilidInvalidArgument,
} from "@save-dweb/veilid"
import { Context, Duration, Effect, Layer, Option, Random, type Scope, type Stream } from "effect"
import type { DhtBackend } from "./backend.ts"
import { maxSealedSize, opaqueKey, openValue, sealValue } from "./codec.ts"
import type { RecordDefinition, RecordValue, SubkeySchema, ValueAt } from "./definition.ts"
import {
  type DhtRecordsError,
  type Operation,
  RecordConflict,
  type RecordConflictOf,
  RecordFailed,
  RecordInvalid,
  RecordNotFound,
  RecordNotWritable,
  RecordTimeout,
  RecordTooLarge,
} from "./errors.ts"
import { MemoryDhtNetwork, type MemoryDhtNetworkShape } from "./memory-network.ts"
import { fromRanges, seqOrUndefined, toRanges } from "./subkeys.ts"
import type {
  Entry,
  Inspection,
  KeyPair,
  PublicKey,
  RecordKey,
  RecordLayout,
  RecordSchema,
  SubkeySpan,
  WatchEvent,
} from "./types.ts"
import { defaultWatchOptions, type WatchOptions, watchStream } from "./watch.ts"

export interface CreateOptions {
  readonly schema: RecordSchema
  /** Seals every value of the record (e.g. `deriveKey(groupSecret, KeyName.dhtValues)`). */
  readonly encryptionKey: SecretKey
  /** Owner key pair; a fresh one when absent (read it back from `ownerKeyPair`). */
  readonly owner?: KeyPair
}

export interface OpenOptions {
  readonly encryptionKey: SecretKey
  /** Key pair to write with: the owner's, or a SMPL member's. Read-only without one. */
  readonly writer?: KeyPair
}

export interface GetOptions {
  /** Ask the network even when a value is held here (default: the local copy if any). */
  readonly refresh?: boolean
}

export interface InspectOptions {
  /** Subkeys to report (default all). */
  readonly subkeys?: ReadonlyArray<number>
  /** `local`: what this participant holds; `network`: also ask the network (default `local`). */
  readonly scope?: "local" | "network"
}

/** An open record, typed by its definition. Closed when the scope that opened it closes. */
export interface OpenedRecord<D extends RecordDefinition> {
  readonly definition: D
  /** The key to share: `VLD0:<record>:<Veilid's encryption key>`. */
  readonly key: RecordKey
  readonly owner: PublicKey
  /** The owner key pair when this participant has it (it created the record, or opened it as owner). */
  readonly ownerKeyPair: Option.Option<KeyPair>
  /** Public key of the key pair this handle writes with. */
  readonly writer: Option.Option<PublicKey>
  readonly layout: RecordLayout
  /** Subkeys this handle may write. */
  readonly writable: ReadonlyArray<SubkeySpan>
  readonly canWrite: (subkey: number) => boolean
  /** A subkey's value: the local copy, or the network's with `refresh` (or when none is held). */
  readonly get: <K extends number>(
    subkey: K,
    options?: GetOptions,
  ) => Effect.Effect<Option.Option<Entry<ValueAt<D, K>>>, DhtRecordsError>
  /**
   * Writes a subkey. Fails with `RecordConflict` (carrying the newer value, which the
   * network kept) when the network held a value newer than the one this participant
   * last saw; with `RecordNotWritable` or `RecordTooLarge` before sending anything.
   */
  readonly set: <K extends number>(
    subkey: K,
    value: ValueAt<D, K>,
  ) => Effect.Effect<
    void,
    Exclude<DhtRecordsError, RecordConflict> | RecordConflictOf<ValueAt<D, K>>
  >
  /**
   * Changes newer than what this participant holds when the stream starts, per subkey
   * in sequence order (intermediate values may be skipped). May include this
   * participant's own writes. Ends with `RecordNotFound` if the record is closed.
   */
  readonly watch: (
    options?: WatchOptions,
  ) => Stream.Stream<WatchEvent<RecordValue<D>>, DhtRecordsError>
  readonly inspect: (options?: InspectOptions) => Effect.Effect<Inspection, DhtRecordsError>
}

export interface DhtRecordsShape {
  /** Creates a record, open (as owner) for the current scope. */
  readonly create: <D extends RecordDefinition>(
    definition: D,
    options: CreateOptions,
  ) => Effect.Effect<OpenedRecord<D>, DhtRecordsError, Scope.Scope>
  /** Opens a record for the current scope: read-only, or writable with `writer`. */
  readonly open: <D extends RecordDefinition>(
    definition: D,
    key: RecordKey,
    options: OpenOptions,
  ) => Effect.Effect<OpenedRecord<D>, DhtRecordsError, Scope.Scope>
  /**
   * Deletes this participant's copy of a record and closes it here (its handles then
   * fail with `RecordNotFound`). Other participants keep theirs; the network drops the
   * record when it expires.
   */
  readonly delete: (key: RecordKey) => Effect.Effect<void, DhtRecordsError>
  /** A fresh key pair, e.g. a SMPL member's writer key. */
  readonly generateKeyPair: Effect.Effect<KeyPair, DhtRecordsError>
}

export interface DhtRecordsOptions {
  /**
   * Retries of calls Veilid answers with `TryAgain`, `Timeout` or `NoConnection`:
   * `attempts` in all (default 7), waiting `initialDelay` (default 250 ms) doubled
   * each time up to `maxDelay` (default 2 s), ±20 % jitter. A node that has just
   * attached, or a busy one, answers `TryAgain` ("offline") for a few seconds: the
   * defaults wait about 8 s for it before giving up.
   */
  readonly retry?: {
    readonly attempts?: number
    readonly initialDelay?: Duration.Input
    readonly maxDelay?: Duration.Input
  }
  /** Defaults for `watch`. */
  readonly watch?: Omit<WatchOptions, "subkeys">
}

/** The public key of a `VLD0:<public>:<secret>` key pair. */
export const publicKeyOf = (keyPair: KeyPair): PublicKey => keyPair.split(":").slice(0, 2).join(":")

const bare = (typed: string): string => typed.split(":")[1] ?? typed

/**
 * The subkeys of each SMPL member: owner subkeys `[0, ownerSubkeys)` come first, then
 * the members in schema order, each with its count (veilid-core
 * `check_subkey_value_data_smpl`).
 */
export const memberSubkeys = (
  ownerSubkeys: number,
  counts: ReadonlyArray<number>,
): ReadonlyArray<SubkeySpan> => {
  let start = ownerSubkeys
  return counts.map((count) => {
    const span = { start, end: start + count }
    start += count
    return span
  })
}

const isTransient = (error: VeilidError) =>
  error._tag === "VeilidTimeout" ||
  error._tag === "VeilidTryAgain" ||
  error._tag === "VeilidNoConnection"

const transientReason = (error: VeilidError): "Timeout" | "TryAgain" | "NoConnection" =>
  error._tag === "VeilidTryAgain"
    ? "TryAgain"
    : error._tag === "VeilidNoConnection"
      ? "NoConnection"
      : "Timeout"

/** Maps Veilid's answer (checked against veilid-core 0.5.8's messages) to this package's errors. */
const fromVeilid = (
  operation: Operation,
  key: RecordKey | undefined,
  subkey: number | undefined,
  error: VeilidError,
): DhtRecordsError => {
  switch (error._tag) {
    case "VeilidKeyNotFound":
      return new RecordNotFound({
        operation,
        key: key ?? error.key,
        message: `record ${key ?? error.key} not found`,
      })
    case "VeilidInvalidArgument":
      if (error.context === "record not open" && key !== undefined) {
        return new RecordNotFound({ operation, key, message: `record ${key} is not open here` })
      }
      if (error.context === "subkey out of range") {
        return new RecordInvalid({
          key,
          subkey,
          reason: "SubkeyOutOfRange",
          message: error.message,
        })
      }
      break
    case "VeilidInternal":
      if (
        error.kind === "Generic" &&
        key !== undefined &&
        subkey !== undefined &&
        /value is not writable|failed schema validation/.test(error.message)
      ) {
        return new RecordNotWritable({
          key,
          subkey,
          message: `subkey ${subkey} of ${key} is not writable with this key pair`,
        })
      }
      break
  }
  return new RecordFailed({
    operation,
    key,
    message: `${operation}: ${error.message}`,
    cause: error,
  })
}

const fromSchema = (schema: DhtSchema, kind: string, owner: PublicKey): RecordLayout => {
  const subkeyCount =
    schema.kind === "DFLT" ? schema.oCnt : schema.members.reduce((n, m) => n + m.mCnt, schema.oCnt)
  const spans =
    schema.kind === "SMPL"
      ? memberSubkeys(
          schema.oCnt,
          schema.members.map((m) => m.mCnt),
        )
      : []
  return {
    kind: schema.kind,
    subkeyCount,
    owner,
    ownerSubkeys: { start: 0, end: schema.oCnt },
    members:
      schema.kind === "SMPL"
        ? schema.members.map((m, i) => ({
            memberId: `${kind}:${m.mKey}`,
            subkeys: spans[i] as SubkeySpan,
          }))
        : [],
    maxSealedSize: maxSealedSize(subkeyCount),
  }
}

const schemaError = (message: string) =>
  new RecordInvalid({ key: undefined, subkey: undefined, reason: "Definition", message })

const isCount = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n <= max

/** Checks a schema before Veilid does, with this package's error (veilid-core's limits). */
const checkSchema = (schema: RecordSchema, definition: RecordDefinition) => {
  if (schema.kind === "DFLT") {
    if (!isCount(schema.subkeys, 1024) || schema.subkeys === 0) {
      return schemaError(`a DFLT record has 1 to 1024 subkeys, not ${schema.subkeys}`)
    }
  } else {
    if (!isCount(schema.ownerSubkeys, 1024)) {
      return schemaError(`ownerSubkeys must be 0 to 1024, not ${schema.ownerSubkeys}`)
    }
    if (schema.members.length > 256) {
      return schemaError(`a SMPL record has at most 256 members, not ${schema.members.length}`)
    }
    if (schema.members.some((m) => !isCount(m.subkeys, 1024))) {
      return schemaError("a SMPL member has 0 to 1024 subkeys")
    }
    const writers = new Set(schema.members.filter((m) => m.subkeys > 0).map((m) => m.writer)).size
    if (writers + (schema.ownerSubkeys > 0 ? 1 : 0) > 256) {
      return schemaError("a SMPL record has at most 256 writers, the owner included")
    }
  }
  const count =
    schema.kind === "DFLT"
      ? schema.subkeys
      : schema.members.reduce((n, m) => n + m.subkeys, schema.ownerSubkeys)
  if (count === 0 || count > 1024) {
    return schemaError(`a record has 1 to 1024 subkeys, not ${count}`)
  }
  if (count < definition.minSubkeyCount) {
    return schemaError(
      `${definition.name} names subkeys up to ${definition.minSubkeyCount - 1}; the schema has ${count}`,
    )
  }
  return undefined
}

const equalBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((byte, i) => byte === b[i])

/** The service over any backend: the Veilid facade, or a memory network participant. */
export const makeDhtRecords = Effect.fnUntraced(function* (
  backend: DhtBackend,
  options: DhtRecordsOptions = {},
) {
  const attempts = Math.max(1, options.retry?.attempts ?? 7)
  const initialDelay = Duration.toMillis(options.retry?.initialDelay ?? Duration.millis(250))
  const maxDelay = Duration.toMillis(options.retry?.maxDelay ?? Duration.seconds(2))
  const watchDefaults = { ...defaultWatchOptions, ...options.watch }

  /**
   * Open handles per record here: Veilid opens a record once per node, so it is closed
   * when the last handle goes. `delete` forgets them: a handle from before a delete
   * never closes a later open.
   */
  const openHandles = new Map<string, Set<symbol>>()
  /** Subkeys each running watch stream wants, per record: Veilid holds one watch per record. */
  const watchers = new Map<string, Array<SubkeyRanges>>()

  const call = <A>(
    operation: Operation,
    key: RecordKey | undefined,
    effect: Effect.Effect<A, VeilidError>,
    subkey?: number,
    maxAttempts = attempts,
  ): Effect.Effect<A, DhtRecordsError> => {
    const attempt = (n: number): Effect.Effect<A, DhtRecordsError> =>
      effect.pipe(
        Effect.catch((error) => {
          if (!isTransient(error)) return Effect.fail(fromVeilid(operation, key, subkey, error))
          if (n >= maxAttempts) {
            return Effect.fail(
              new RecordTimeout({
                operation,
                key,
                reason: transientReason(error),
                attempts: n,
                message: `${operation}${key ? ` of ${key}` : ""}: no answer after ${n} attempts (${error.message})`,
              }),
            )
          }
          return Random.nextBetween(0.8, 1.2).pipe(
            Effect.flatMap((jitter) =>
              Effect.sleep(
                Duration.millis(Math.min(initialDelay * 2 ** (n - 1), maxDelay) * jitter),
              ),
            ),
            Effect.andThen(attempt(n + 1)),
          )
        }),
      )
    return attempt(1)
  }

  const acquire = (key: RecordKey) =>
    Effect.sync(() => {
      const opaque = opaqueKey(key)
      const handles = openHandles.get(opaque) ?? new Set<symbol>()
      const token = Symbol(opaque)
      handles.add(token)
      openHandles.set(opaque, handles)
      return token
    })

  const release = (key: RecordKey, token: symbol) =>
    Effect.suspend(() => {
      const opaque = opaqueKey(key)
      const handles = openHandles.get(opaque)
      if (handles === undefined || !handles.delete(token) || handles.size > 0) return Effect.void
      openHandles.delete(opaque)
      return backend.dhtClose(key).pipe(Effect.ignore)
    })

  const setWatchFor = (key: RecordKey) =>
    Effect.suspend(() => {
      const wanted = (watchers.get(opaqueKey(key)) ?? []).flatMap((r) => fromRanges(r))
      // One attempt: a watch stream polls meanwhile and tries again later.
      return call(
        "watch",
        key,
        wanted.length === 0
          ? backend.dhtCancelWatch(key)
          : backend.dhtWatch(key, { subkeys: toRanges(wanted) }),
        undefined,
        1,
      )
    })

  const makeHandle = <D extends RecordDefinition>(
    definition: D,
    descriptor: DhtRecordDescriptor,
    encryptionKey: SecretKey,
    writerKeyPair: KeyPair | undefined,
  ) =>
    Effect.gen(function* () {
      const key = descriptor.key
      const kind = key.split(":")[0] ?? "VLD0"
      const layout = fromSchema(descriptor.schema, kind, descriptor.owner)
      if (layout.subkeyCount < definition.minSubkeyCount) {
        return yield* new RecordInvalid({
          key,
          subkey: undefined,
          reason: "Definition",
          message: `${definition.name} names subkeys up to ${definition.minSubkeyCount - 1}; record ${key} has ${layout.subkeyCount}`,
        })
      }
      const writer = writerKeyPair === undefined ? undefined : publicKeyOf(writerKeyPair)
      const writable: Array<SubkeySpan> = []
      if (writer !== undefined) {
        if (writer === descriptor.owner && layout.ownerSubkeys.end > 0)
          writable.push(layout.ownerSubkeys)
        if (layout.members.length > 0) {
          const memberId = yield* call("open", key, backend.generateMemberId(writer))
          for (const member of layout.members) {
            if (member.memberId === memberId && member.subkeys.end > member.subkeys.start) {
              writable.push(member.subkeys)
            }
          }
        }
      }
      const canWrite = (subkey: number) =>
        writable.some((span) => subkey >= span.start && subkey < span.end)
      const ownerKeyPair =
        descriptor.ownerSecret !== undefined
          ? Option.some(`${descriptor.owner}:${bare(descriptor.ownerSecret)}`)
          : Option.none<KeyPair>()

      const schemaAt = (subkey: number): Effect.Effect<SubkeySchema, RecordInvalid> => {
        if (!Number.isInteger(subkey) || subkey < 0 || subkey >= layout.subkeyCount) {
          return Effect.fail(
            new RecordInvalid({
              key,
              subkey,
              reason: "SubkeyOutOfRange",
              message: `subkey ${subkey} is not in record ${key} (${layout.subkeyCount} subkeys)`,
            }),
          )
        }
        const schema = definition.schemaFor(subkey)
        return schema === undefined
          ? Effect.fail(
              new RecordInvalid({
                key,
                subkey,
                reason: "NoSchemaForSubkey",
                message: `${definition.name} has no Schema for subkey ${subkey}`,
              }),
            )
          : Effect.succeed(schema)
      }

      const decodeEntry = (schema: SubkeySchema, subkey: number, data: ValueData) =>
        Effect.map(
          openValue(schema, data.data, { key, subkey, encryptionKey }),
          (value): Entry<unknown> => ({ subkey, seq: data.seq, writer: data.writer, value }),
        )

      const get = Effect.fn("DhtRecords.get")(function* (subkey: number, opts?: GetOptions) {
        const schema = yield* schemaAt(subkey)
        const found = yield* call(
          "get",
          key,
          backend.dhtGet(key, subkey, { forceRefresh: opts?.refresh ?? false }),
          subkey,
        )
        if (Option.isNone(found)) return Option.none<Entry<unknown>>()
        return Option.some(yield* decodeEntry(schema, subkey, found.value))
      })

      const set = Effect.fn("DhtRecords.set")(function* (subkey: number, value: unknown) {
        const schema = yield* schemaAt(subkey)
        if (!canWrite(subkey) || writerKeyPair === undefined) {
          return yield* new RecordNotWritable({
            key,
            subkey,
            message:
              writer === undefined
                ? `record ${key} is open read-only`
                : `${writer} may not write subkey ${subkey} of ${key}`,
          })
        }
        const sealed = yield* sealValue(schema, value, {
          key,
          subkey,
          encryptionKey,
          limit: layout.maxSealedSize,
        })
        // The same sealed bytes on every retry: Veilid then keeps the sequence number.
        const newer = yield* call(
          "set",
          key,
          backend.dhtSet(key, subkey, sealed, { writer: writerKeyPair }),
          subkey,
        ).pipe(
          Effect.mapError((error) =>
            error._tag === "RecordFailed" &&
            (/invalid size/.test(error.message) ||
              (error.cause instanceof VeilidInvalidArgument && error.cause.argument === "data"))
              ? new RecordTooLarge({
                  key,
                  subkey,
                  size: sealed.length,
                  limit: layout.maxSealedSize,
                  message: `Veilid refused ${sealed.length} bytes for subkey ${subkey}`,
                })
              : error,
          ),
        )
        if (Option.isNone(newer) || equalBytes(newer.value.data, sealed)) return
        const current = yield* decodeEntry(schema, subkey, newer.value)
        return yield* new RecordConflict({
          key,
          subkey,
          current,
          message: `subkey ${subkey} of ${key} holds a newer value (seq ${current.seq}); it was kept`,
        })
      })

      const decodeEvent = (subkey: number, data: ValueData): Effect.Effect<WatchEvent<unknown>> => {
        const schema = definition.schemaFor(subkey)
        if (schema === undefined) {
          return Effect.succeed({
            _tag: "Unreadable",
            subkey,
            seq: data.seq,
            writer: data.writer,
            error: new RecordInvalid({
              key,
              subkey,
              reason: "NoSchemaForSubkey",
              message: `${definition.name} has no Schema for subkey ${subkey}`,
            }),
          })
        }
        return decodeEntry(schema, subkey, data).pipe(
          Effect.map((entry): WatchEvent<unknown> => ({ _tag: "Changed", ...entry })),
          Effect.catch((error) =>
            Effect.succeed<WatchEvent<unknown>>({
              _tag: "Unreadable",
              subkey,
              seq: data.seq,
              writer: data.writer,
              error,
            }),
          ),
        )
      }

      const watch = (opts?: WatchOptions) => {
        const all = Array.from({ length: layout.subkeyCount }, (_, i) => i)
        const subkeys = (opts?.subkeys ?? all).filter((s) => s >= 0 && s < layout.subkeyCount)
        const ranges = toRanges(subkeys)
        const opaque = opaqueKey(key)
        return watchStream({
          backend,
          key,
          subkeys,
          call: (operation, effect) => call(operation, key, effect),
          setWatch: Effect.suspend(() => {
            const list = watchers.get(opaque) ?? []
            if (!list.includes(ranges)) watchers.set(opaque, [...list, ranges])
            return setWatchFor(key)
          }),
          clearWatch: Effect.suspend(() => {
            const rest = (watchers.get(opaque) ?? []).filter((r) => r !== ranges)
            if (rest.length === 0) watchers.delete(opaque)
            else watchers.set(opaque, rest)
            return setWatchFor(key).pipe(Effect.ignore)
          }),
          decode: decodeEvent,
          pollInterval: Duration.fromInputUnsafe(opts?.pollInterval ?? watchDefaults.pollInterval),
          reconcileInterval: Duration.fromInputUnsafe(
            opts?.reconcileInterval ?? watchDefaults.reconcileInterval,
          ),
          rewatchInterval: Duration.fromInputUnsafe(
            opts?.rewatchInterval ?? watchDefaults.rewatchInterval,
          ),
        }).pipe((stream) => stream as Stream.Stream<WatchEvent<RecordValue<D>>, DhtRecordsError>)
      }

      const inspect = Effect.fn("DhtRecords.inspect")(function* (opts?: InspectOptions) {
        const subkeys = opts?.subkeys?.filter((s) => s >= 0 && s < layout.subkeyCount)
        const report = yield* call(
          "inspect",
          key,
          backend.dhtInspect(key, {
            ...(subkeys === undefined ? {} : { subkeys: toRanges(subkeys) }),
            scope: opts?.scope === "network" ? "SyncGet" : "Local",
          }),
        )
        const listed = fromRanges(report.subkeys)
        return {
          subkeys: listed.map((subkey, i) => ({
            subkey,
            local: seqOrUndefined(report.localSeqs[i]),
            network: seqOrUndefined(report.networkSeqs[i]),
          })),
          offlineSubkeys: fromRanges(report.offlineSubkeys),
        } satisfies Inspection
      })

      const handle: OpenedRecord<D> = {
        definition,
        key,
        owner: descriptor.owner,
        ownerKeyPair,
        writer: Option.fromNullishOr(writer),
        layout,
        writable,
        canWrite,
        get: get as OpenedRecord<D>["get"],
        set: set as OpenedRecord<D>["set"],
        watch,
        inspect,
      }
      return handle
    })

  const toDhtSchema = (schema: RecordSchema) =>
    Effect.gen(function* () {
      if (schema.kind === "DFLT") return { kind: "DFLT", oCnt: schema.subkeys } satisfies DhtSchema
      const members = yield* Effect.forEach(schema.members, (member) =>
        Effect.map(call("create", undefined, backend.generateMemberId(member.writer)), (id) => ({
          mKey: bare(id),
          mCnt: member.subkeys,
        })),
      )
      return { kind: "SMPL", oCnt: schema.ownerSubkeys, members } satisfies DhtSchema
    })

  const service: DhtRecordsShape = {
    create: Effect.fn("DhtRecords.create")(function* <D extends RecordDefinition>(
      definition: D,
      opts: CreateOptions,
    ) {
      const invalid = checkSchema(opts.schema, definition)
      if (invalid) return yield* invalid
      const schema = yield* toDhtSchema(opts.schema)
      const descriptor = yield* Effect.acquireRelease(
        call(
          "create",
          undefined,
          backend.dhtCreate(schema, opts.owner === undefined ? undefined : { owner: opts.owner }),
        ).pipe(Effect.flatMap((d) => Effect.map(acquire(d.key), (token) => ({ d, token })))),
        ({ d, token }) => release(d.key, token),
      ).pipe(Effect.map(({ d }) => d))
      const owner =
        opts.owner ??
        (descriptor.ownerSecret === undefined
          ? undefined
          : `${descriptor.owner}:${bare(descriptor.ownerSecret)}`)
      return yield* makeHandle(definition, descriptor, opts.encryptionKey, owner)
    }),

    open: Effect.fn("DhtRecords.open")(function* <D extends RecordDefinition>(
      definition: D,
      key: RecordKey,
      opts: OpenOptions,
    ) {
      const descriptor = yield* Effect.acquireRelease(
        call(
          "open",
          key,
          backend.dhtOpen(key, opts.writer === undefined ? undefined : { writer: opts.writer }),
        ).pipe(Effect.flatMap((d) => Effect.map(acquire(d.key), (token) => ({ d, token })))),
        ({ d, token }) => release(d.key, token),
      ).pipe(Effect.map(({ d }) => d))
      return yield* makeHandle(definition, descriptor, opts.encryptionKey, opts.writer)
    }),

    delete: Effect.fn("DhtRecords.delete")(function* (key: RecordKey) {
      openHandles.delete(opaqueKey(key))
      watchers.delete(opaqueKey(key))
      yield* call("delete", key, backend.dhtDelete(key))
    }),

    generateKeyPair: Effect.suspend(() =>
      call("generateKeyPair", undefined, backend.generateKeyPair()),
    ),
  }
  return service
})

/** A `DhtRecords` on a memory network participant of its own. */
export const makeMemoryDhtRecords = (
  network: MemoryDhtNetworkShape,
  options?: DhtRecordsOptions,
): Effect.Effect<DhtRecordsShape, never, Scope.Scope> =>
  Effect.flatMap(network.participant, (participant) => makeDhtRecords(participant, options))

/**
 * Typed, encrypted DHT records. `layer` runs on the Veilid node in context;
 * `layerMemory` on the `MemoryDhtNetwork` in context (unit tests only).
 */
export class DhtRecords extends Context.Service<DhtRecords, DhtRecordsShape>()(
  "@save-dweb/dht-records/DhtRecords",
) {
  static readonly layer = (options?: DhtRecordsOptions): Layer.Layer<DhtRecords, never, Veilid> =>
    Layer.effect(
      DhtRecords,
      Effect.gen(function* () {
        return yield* makeDhtRecords(yield* Veilid, options)
      }),
    )

  static readonly layerMemory = (
    options?: DhtRecordsOptions,
  ): Layer.Layer<DhtRecords, never, MemoryDhtNetwork> =>
    Layer.effect(
      DhtRecords,
      Effect.gen(function* () {
        return yield* makeMemoryDhtRecords(yield* MemoryDhtNetwork, options)
      }),
    )
}
