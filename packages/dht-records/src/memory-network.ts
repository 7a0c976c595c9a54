// An in-process stand-in for the Veilid DHT, shared by several participants.
// It answers like veilid-core 0.5.8 does (storage_manager/*.rs): per-participant
// local copies, sequence numbers taken from the local copy, a set that loses to
// a newer (or rival same-sequence) network value returns that value, DFLT/SMPL
// writer and size checks, watches that notify other participants, and the same
// tagged errors with the same messages. Values are opaque bytes, as they are to
// a DHT node.
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto"
import {
  type DhtRecordDescriptor,
  type DhtRecordReport,
  type DhtSchema,
  type KeyPair,
  type PublicKey,
  type RecordKey,
  type SubkeyRanges,
  type ValueData,
  type VeilidError,
  VeilidInternal,
  VeilidInvalidArgument,
  VeilidKeyNotFound,
  VeilidTryAgain,
  type VeilidUpdate,
} from "@save-dweb/veilid"
import { Context, Effect, Layer, Option, PubSub, type Scope, Stream } from "effect"
import type { DhtBackend } from "./backend.ts"
import { MAX_SUBKEY_SIZE, maxSealedSize, opaqueKey } from "./codec.ts"

/**
 * How the network treats watches:
 * - `accept`: watches hold and notify (Veilid with healthy watch nodes);
 * - `fail`: setting a watch fails with `VeilidTryAgain`;
 * - `silent`: a watch is accepted, then at once reported dead (a `ValueChange` with
 *   count 0 and no subkeys, as Veilid sends when no node keeps it), and never notifies.
 */
export type WatchPolicy = "accept" | "fail" | "silent"

export interface MemoryDhtNetworkShape {
  /** A new participant (a node of its own): local copies, open records, watches, updates. */
  readonly participant: Effect.Effect<DhtBackend, never, Scope.Scope>
  readonly setWatchPolicy: (policy: WatchPolicy) => Effect.Effect<void>
  /** Ends every watch, as when Veilid gives one up: watchers get a dead `ValueChange`. */
  readonly expireWatches: Effect.Effect<number>
  /** The bytes the network holds for a subkey: what a DHT node sees. */
  readonly peek: (key: RecordKey, subkey: number) => Effect.Effect<Option.Option<ValueData>>
  /**
   * Replaces the bytes the network holds for a subkey, keeping its writer, with `seq`
   * (default: the current one): a misbehaving writer or node.
   */
  readonly replace: (
    key: RecordKey,
    subkey: number,
    data: Uint8Array,
    seq?: number,
  ) => Effect.Effect<boolean>
}

interface StoredRecord {
  /** veilid-core creates a record locally; the network learns of it with its first value. */
  published: boolean
  readonly owner: PublicKey
  readonly ownerSecret: string
  readonly schema: DhtSchema
  readonly values: Map<number, ValueData>
}

interface LocalRecord {
  readonly key: RecordKey
  readonly values: Map<number, ValueData>
}

interface Watch {
  readonly key: RecordKey
  readonly subkeys: SubkeyRanges
  remaining: number
}

interface Participant {
  readonly local: Map<string, LocalRecord>
  readonly opened: Map<string, { readonly writer: KeyPair | undefined }>
  readonly watches: Map<string, Watch>
  readonly updates: PubSub.PubSub<VeilidUpdate>
}

const kind = "VLD0"
const maxCount = 0xffff_ffff
const random32 = () => randomBytes(32).toString("base64url")
/**
 * A key pair like Veilid's VLD0: the secret is an Ed25519 seed and the public key is
 * derived from it, so a key pair rebuilt from its seed (device pairing) is the same one.
 */
const ed25519PublicKey = (seed: Uint8Array): Uint8Array => {
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410), so node:crypto derives the public key.
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed])
  const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }))
  return spki.export({ format: "der", type: "spki" }).subarray(-32)
}
const randomKeyPair = (): KeyPair => {
  const seed = randomBytes(32)
  const publicKey = ed25519PublicKey(seed)
  return `${kind}:${Buffer.from(publicKey).toString("base64url")}:${seed.toString("base64url")}`
}
const publicKeyOf = (keyPair: KeyPair): PublicKey => keyPair.split(":").slice(0, 2).join(":")
const bare = (typed: string): string => typed.split(":")[1] ?? typed

const equalBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((byte, i) => byte === b[i])

const invalidArgument = (context: string, argument: string, value: unknown) =>
  new VeilidInvalidArgument({
    message: `Invalid argument: '${context}' for '${argument}' with value '${String(value)}'`,
    context,
    argument,
    value: String(value),
  })

const generic = (message: string) =>
  new VeilidInternal({ message: `Generic: ${message}`, kind: "Generic" })

const keyNotFound = (key: string) =>
  new VeilidKeyNotFound({ message: `Key not found: ${key}`, key })

const subkeyCount = (schema: DhtSchema): number =>
  schema.kind === "DFLT" ? schema.oCnt : schema.members.reduce((n, m) => n + m.mCnt, schema.oCnt)

// veilid-core DHTSchemaDFLT/SMPL::validate
const validateSchema = (schema: DhtSchema): VeilidError | undefined => {
  const count = subkeyCount(schema)
  if (schema.kind === "DFLT" && schema.oCnt === 0) {
    return invalidArgument("must have at least one subkey", "o_cnt", 0)
  }
  if (schema.kind === "SMPL") {
    if (schema.members.length > 256) {
      return invalidArgument("too many members", "member_count", schema.members.length)
    }
    const writers = new Set(schema.members.filter((m) => m.mCnt > 0).map((m) => m.mKey)).size
    const writerCount = writers + (schema.oCnt > 0 ? 1 : 0)
    if (writerCount > 256) return invalidArgument("too many writers", "writer_count", writerCount)
  }
  if (count === 0) return invalidArgument("must have at least one subkey", "subkey_count", 0)
  if (count > 1024) return invalidArgument("too many subkeys", "subkey_count", count)
  return undefined
}

// veilid-core check_subkey_value_data_{dflt,smpl}: owner range first, then members in order.
const mayWrite = (
  record: StoredRecord,
  subkey: number,
  writer: PublicKey,
  size: number,
): boolean => {
  if (size > maxSealedSize(subkeyCount(record.schema))) return false
  if (subkey < record.schema.oCnt) return writer === record.owner
  if (record.schema.kind === "DFLT") return false
  let cursor = subkey - record.schema.oCnt
  for (const member of record.schema.members) {
    if (cursor < member.mCnt) return member.mKey === bare(writer)
    cursor -= member.mCnt
  }
  return false
}

const containsSubkey = (ranges: SubkeyRanges, subkey: number) =>
  ranges.some(([start, end]) => subkey >= start && subkey <= end)

const fullRange = (count: number): SubkeyRanges => [[0, count - 1]]

const truncate = (ranges: SubkeyRanges | undefined, count: number): SubkeyRanges => {
  if (ranges === undefined || ranges.length === 0) return fullRange(count)
  return ranges
    .filter(([start]) => start < count)
    .map(([start, end]) => [start, Math.min(end, count - 1)] as const)
}

const subkeysOf = (ranges: SubkeyRanges): Array<number> =>
  ranges.flatMap(([start, end]) => Array.from({ length: end - start + 1 }, (_, i) => start + i))

const makeNetwork = Effect.fnUntraced(function* (initialPolicy: WatchPolicy) {
  const records = new Map<string, StoredRecord>()
  const participants = new Set<Participant>()
  let policy = initialPolicy

  const publish = (participant: Participant, update: VeilidUpdate) =>
    PubSub.publishUnsafe(participant.updates, update)

  const notifyWatchers = (from: Participant, opaque: string, subkey: number, value: ValueData) => {
    for (const p of participants) {
      const watch = p.watches.get(opaque)
      if (p === from || watch === undefined || !containsSubkey(watch.subkeys, subkey)) continue
      watch.remaining = Math.max(0, watch.remaining - 1)
      if (watch.remaining === 0) p.watches.delete(opaque)
      const local = p.local.get(opaque)
      const held = local?.values.get(subkey)
      if (local && (held === undefined || held.seq < value.seq)) local.values.set(subkey, value)
      publish(p, {
        _tag: "ValueChange",
        key: watch.key,
        subkeys: [[subkey, subkey]],
        count: watch.remaining,
        value,
      })
    }
  }

  const makeParticipant = Effect.fnUntraced(function* () {
    const self: Participant = {
      local: new Map(),
      opened: new Map(),
      watches: new Map(),
      updates: yield* PubSub.unbounded<VeilidUpdate>(),
    }
    participants.add(self)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => participants.delete(self)).pipe(
        Effect.andThen(PubSub.shutdown(self.updates)),
      ),
    )

    const stored = (opaque: string) => records.get(opaque)

    /** Closing a record ends its watch; veilid-core then reports the watch dead. */
    const endWatch = (opaque: string) => {
      const watch = self.watches.get(opaque)
      if (watch === undefined) return
      self.watches.delete(opaque)
      publish(self, {
        _tag: "ValueChange",
        key: watch.key,
        subkeys: [],
        count: 0,
        value: undefined,
      })
    }

    const openedRecord = (key: RecordKey) => {
      const opaque = opaqueKey(key)
      const opened = self.opened.get(opaque)
      const local = self.local.get(opaque)
      const record = stored(opaque)
      if (opened === undefined || local === undefined || record === undefined) {
        return Effect.fail(invalidArgument("record not open", "record_key", opaque))
      }
      return Effect.succeed({ opaque, opened, local, record })
    }

    const checkSubkey = (record: StoredRecord, subkey: number) =>
      Number.isInteger(subkey) && subkey >= 0 && subkey < subkeyCount(record.schema)
        ? Effect.void
        : Effect.fail(invalidArgument("subkey out of range", "subkey", subkey))

    const descriptor = (
      key: RecordKey,
      record: StoredRecord,
      writer: KeyPair | undefined,
    ): DhtRecordDescriptor => ({
      key,
      owner: record.owner,
      ownerSecret:
        writer !== undefined && publicKeyOf(writer) === record.owner
          ? `${kind}:${writer.split(":")[2]}`
          : undefined,
      schema: record.schema,
    })

    const backend: DhtBackend = {
      subscribe: Effect.map(PubSub.subscribe(self.updates), Stream.fromSubscription),

      generateKeyPair: () => Effect.sync(randomKeyPair),

      // For VLD0 a member id is the writer's public key itself (veilid-core generate_member_id).
      generateMemberId: (writerKey) => Effect.succeed(`${kind}:${bare(writerKey)}`),

      dhtCreate: (schema, options) =>
        Effect.suspend(() => {
          const invalid = validateSchema(schema)
          if (invalid) return Effect.fail(invalid)
          const ownerKeyPair = options?.owner ?? randomKeyPair()
          const opaque = `${kind}:${random32()}`
          const key = `${opaque}:${random32()}`
          const record: StoredRecord = {
            published: false,
            owner: publicKeyOf(ownerKeyPair),
            ownerSecret: `${kind}:${ownerKeyPair.split(":")[2]}`,
            schema,
            values: new Map(),
          }
          records.set(opaque, record)
          self.local.set(opaque, { key, values: new Map() })
          self.opened.set(opaque, { writer: ownerKeyPair })
          return Effect.succeed(descriptor(key, record, ownerKeyPair))
        }),

      dhtOpen: (key, options) =>
        Effect.suspend(() => {
          const opaque = opaqueKey(key)
          const record = stored(opaque)
          if (record === undefined || (!record.published && !self.local.has(opaque))) {
            return Effect.fail(keyNotFound(opaque))
          }
          if (!self.local.has(opaque)) self.local.set(opaque, { key, values: new Map() })
          self.opened.set(opaque, { writer: options?.writer })
          return Effect.succeed(descriptor(key, record, options?.writer))
        }),

      dhtClose: (key) =>
        Effect.suspend(() => {
          const opaque = opaqueKey(key)
          if (!self.local.has(opaque)) return Effect.fail(keyNotFound(opaque))
          self.opened.delete(opaque)
          endWatch(opaque)
          return Effect.void
        }),

      dhtDelete: (key) =>
        Effect.suspend(() => {
          const opaque = opaqueKey(key)
          if (!self.local.has(opaque)) return Effect.fail(keyNotFound(opaque))
          self.opened.delete(opaque)
          endWatch(opaque)
          self.local.delete(opaque)
          return Effect.void
        }),

      dhtGet: (key, subkey, options) =>
        Effect.flatMap(openedRecord(key), ({ local, record }) =>
          Effect.andThen(
            checkSubkey(record, subkey),
            Effect.sync(() => {
              const held = local.values.get(subkey)
              if (held !== undefined && !options?.forceRefresh) return Option.some(held)
              const network = record.values.get(subkey)
              if (network !== undefined && (held === undefined || network.seq > held.seq)) {
                local.values.set(subkey, network)
              }
              return Option.fromNullishOr(local.values.get(subkey))
            }),
          ),
        ),

      dhtSet: (key, subkey, data, options) =>
        Effect.flatMap(openedRecord(key), ({ opaque, opened, local, record }) =>
          Effect.andThen(
            checkSubkey(record, subkey),
            Effect.suspend(() => {
              const writer = options?.writer ?? opened.writer
              if (writer === undefined) return Effect.fail(generic("value is not writable"))
              if (data.length > MAX_SUBKEY_SIZE) return Effect.fail(generic("invalid size"))
              const writerKey = publicKeyOf(writer)
              const last = local.values.get(subkey)
              const seq =
                last === undefined
                  ? 0
                  : equalBytes(last.data, data) && last.writer === writerKey
                    ? last.seq
                    : last.seq + 1
              if (!mayWrite(record, subkey, writerKey, data.length)) {
                return Effect.fail(generic(`failed schema validation: ${key}:${subkey}`))
              }
              const value: ValueData = { seq, data: data.slice(), writer: writerKey }
              const current = record.values.get(subkey)
              if (current === undefined || value.seq > current.seq) {
                record.values.set(subkey, value)
                record.published = true
                local.values.set(subkey, value)
                notifyWatchers(self, opaque, subkey, value)
                return Effect.succeed(Option.none<ValueData>())
              }
              local.values.set(subkey, current)
              const same =
                current.seq === value.seq &&
                current.writer === value.writer &&
                equalBytes(current.data, value.data)
              return Effect.succeed(same ? Option.none<ValueData>() : Option.some(current))
            }),
          ),
        ),

      dhtWatch: (key, options) =>
        Effect.flatMap(openedRecord(key), ({ opaque, local, record }) =>
          Effect.suspend(() => {
            if (options?.count === 0) {
              self.watches.delete(opaque)
              return Effect.succeed(false)
            }
            if (policy === "fail") {
              return Effect.fail(
                new VeilidTryAgain({ message: "TryAgain: no node took the watch" }),
              )
            }
            const watch: Watch = {
              key: local.key,
              subkeys: truncate(options?.subkeys, subkeyCount(record.schema)),
              remaining: options?.count ?? maxCount,
            }
            if (policy === "silent") {
              self.watches.delete(opaque)
              publish(self, {
                _tag: "ValueChange",
                key: local.key,
                subkeys: [],
                count: 0,
                value: undefined,
              })
            } else {
              self.watches.set(opaque, watch)
            }
            return Effect.succeed(true)
          }),
        ),

      dhtCancelWatch: (key, subkeys) =>
        Effect.flatMap(openedRecord(key), ({ opaque }) =>
          Effect.sync(() => {
            const watch = self.watches.get(opaque)
            if (watch === undefined) return false
            const removed = subkeys === undefined || subkeys.length === 0 ? undefined : subkeys
            const remaining =
              removed === undefined
                ? []
                : subkeysOf(watch.subkeys).filter((s) => !containsSubkey(removed, s))
            if (remaining.length === 0) {
              self.watches.delete(opaque)
              return false
            }
            self.watches.set(opaque, {
              ...watch,
              subkeys: remaining.map((s) => [s, s] as const),
            })
            return true
          }),
        ),

      dhtInspect: (key, options) =>
        Effect.flatMap(openedRecord(key), ({ local, record }) =>
          Effect.sync((): DhtRecordReport => {
            const ranges = truncate(options?.subkeys, subkeyCount(record.schema))
            const subkeys = subkeysOf(ranges)
            const fromNetwork = (options?.scope ?? "Local") !== "Local"
            return {
              subkeys: ranges,
              offlineSubkeys: [],
              localSeqs: subkeys.map((s) => local.values.get(s)?.seq ?? null),
              networkSeqs: subkeys.map((s) =>
                fromNetwork ? (record.values.get(s)?.seq ?? null) : null,
              ),
            }
          }),
        ),
    }
    return backend
  })

  const network: MemoryDhtNetworkShape = {
    participant: makeParticipant(),
    setWatchPolicy: (next) =>
      Effect.sync(() => {
        policy = next
      }),
    expireWatches: Effect.sync(() => {
      let ended = 0
      for (const p of participants) {
        for (const [opaque, watch] of p.watches) {
          p.watches.delete(opaque)
          publish(p, {
            _tag: "ValueChange",
            key: watch.key,
            subkeys: [],
            count: 0,
            value: undefined,
          })
          ended++
        }
      }
      return ended
    }),
    peek: (key, subkey) =>
      Effect.sync(() => Option.fromNullishOr(records.get(opaqueKey(key))?.values.get(subkey))),
    replace: (key, subkey, data, seq) =>
      Effect.sync(() => {
        const record = records.get(opaqueKey(key))
        const value = record?.values.get(subkey)
        if (record === undefined || value === undefined) return false
        record.values.set(subkey, { ...value, seq: seq ?? value.seq, data: data.slice() })
        return true
      }),
  }
  return network
})

/**
 * A shared in-process DHT for unit tests of the layers above: every `DhtRecords` built
 * on the same network (`DhtRecords.layerMemory`, `makeMemoryDhtRecords`) sees the same
 * records, as members on different Veilid nodes would. Never ship or demo it.
 */
export class MemoryDhtNetwork extends Context.Service<MemoryDhtNetwork, MemoryDhtNetworkShape>()(
  "@save-dweb/dht-records/MemoryDhtNetwork",
) {
  static readonly layer = (options?: {
    readonly watchPolicy?: WatchPolicy
  }): Layer.Layer<MemoryDhtNetwork> =>
    Layer.effect(MemoryDhtNetwork, makeNetwork(options?.watchPolicy ?? "accept"))

  static readonly make = (options?: {
    readonly watchPolicy?: WatchPolicy
  }): Effect.Effect<MemoryDhtNetworkShape> => makeNetwork(options?.watchPolicy ?? "accept")
}
