import { openEnvelope, type SecretKey, sealEnvelope } from "@save-dweb/crypto"
import type { RepoCredentials } from "@save-dweb/data-repo"
import type { Tier } from "@save-dweb/group"
import type { RecordKey, VeilidError, VeilidShape } from "@save-dweb/veilid"
import { Effect, Option, Schema, type Scope } from "effect"
import { InvalidKnownGroup } from "./errors.ts"

/** What the backend keeps per group so it can open it again after a restart. */
export interface KnownGroup {
  readonly key: RecordKey
  /** `encodeCredentials` bytes (group's own format). */
  readonly credentials: Uint8Array
  /** The member's own repo, once made (write tier and up). */
  readonly repo: RepoCredentials | undefined
  /** The group name as last read, so `listGroups` works offline. */
  readonly name: string | undefined
  readonly tier: Tier
  /**
   * The group was rotated and this member follows it under this key (the entry stays so
   * the old key still finds the group); `undefined` for a group in use.
   */
  readonly movedTo?: RecordKey | undefined
  /** "Keep at least this many copies off this device" (`undefined`: no target). */
  readonly copiesTarget?: number | undefined
  /**
   * The `save+dweb:backup` links (with their access secrets) of the servers this member
   * registered the group with, so it can register the group's successor after a rotation.
   * In a moved entry: the servers not carried over to the new group yet.
   */
  readonly backups?: ReadonlyArray<string> | undefined
}

/** Where known groups are kept: Veilid's table store, or a map in tests. */
export interface KnownGroupsStore {
  readonly all: Effect.Effect<ReadonlyArray<KnownGroup>, VeilidError | InvalidKnownGroup>
  readonly get: (
    key: RecordKey,
  ) => Effect.Effect<Option.Option<KnownGroup>, VeilidError | InvalidKnownGroup>
  readonly put: (entry: KnownGroup) => Effect.Effect<void, VeilidError>
  readonly remove: (key: RecordKey) => Effect.Effect<void, VeilidError>
}

const TierWire = Schema.Literals(["replicate", "read", "write", "manage"])

const KnownGroupWire = Schema.Struct({
  v: Schema.Literal(1),
  credentials: Schema.Uint8ArrayFromBase64Url,
  repo: Schema.NullOr(Schema.Struct({ key: Schema.String, owner: Schema.String })),
  name: Schema.NullOr(Schema.String),
  tier: TierWire,
  /** Added with rotations; entries without it read as groups in use. */
  movedTo: Schema.optionalKey(Schema.String),
  /** Added with copy targets; entries without it have none. */
  copiesTarget: Schema.optionalKey(
    Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })),
  ),
  /** Added with backups that follow rotations; entries without it kept no backup link. */
  backups: Schema.optionalKey(Schema.Array(Schema.String)),
})

const KnownGroupJson = Schema.fromJsonString(KnownGroupWire)
const encodeJson = Schema.encodeSync(KnownGroupJson)
const decodeJson = Schema.decodeUnknownEffect(KnownGroupJson)

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder("utf-8", { fatal: true })

/** The stored value: UTF-8 JSON, versioned (`v: 1`). */
export const encodeKnownGroup = (entry: KnownGroup): Uint8Array =>
  utf8.encode(
    encodeJson({
      v: 1,
      credentials: entry.credentials,
      repo: entry.repo ?? null,
      name: entry.name ?? null,
      tier: entry.tier,
      ...(entry.movedTo === undefined ? {} : { movedTo: entry.movedTo }),
      ...(entry.copiesTarget === undefined ? {} : { copiesTarget: entry.copiesTarget }),
      ...(entry.backups === undefined || entry.backups.length === 0
        ? {}
        : { backups: entry.backups }),
    }),
  )

export const decodeKnownGroup = (
  key: RecordKey,
  bytes: Uint8Array,
): Effect.Effect<KnownGroup, InvalidKnownGroup> =>
  Effect.try({
    try: () => fromUtf8.decode(bytes),
    catch: () => new InvalidKnownGroup({ key, message: "not UTF-8" }),
  }).pipe(
    Effect.flatMap((text) =>
      Effect.mapError(decodeJson(text), (e) => new InvalidKnownGroup({ key, message: e.message })),
    ),
    Effect.map((wire) => ({
      key,
      credentials: wire.credentials,
      repo: wire.repo ?? undefined,
      name: wire.name ?? undefined,
      tier: wire.tier,
      ...(wire.movedTo === undefined ? {} : { movedTo: wire.movedTo }),
      ...(wire.copiesTarget === undefined ? {} : { copiesTarget: wire.copiesTarget }),
      ...(wire.backups === undefined ? {} : { backups: wire.backups }),
    })),
  )

/**
 * With a passphrase (the data dir's storage key, `unlockStorage`), an entry is stored
 * sealed: `{"v":2,"sealed":<base64url envelope of the v1 JSON>}`, bound to its group key,
 * so a copy of the data dir without the passphrase holds no group secret.
 */
const SealedWire = Schema.Struct({ v: Schema.Literal(2), sealed: Schema.Uint8ArrayFromBase64Url })
const SealedJson = Schema.fromJsonString(SealedWire)
const sealedAd = (key: RecordKey) => utf8.encode(`save-dweb/backend/known-group/v2\0${key}`)

/** `encodeKnownGroup`, sealed under `storageKey` when there is one. */
export const sealKnownGroup = (
  entry: KnownGroup,
  storageKey: SecretKey | undefined,
): Effect.Effect<Uint8Array> =>
  storageKey === undefined
    ? Effect.succeed(encodeKnownGroup(entry))
    : Effect.map(
        sealEnvelope(storageKey, encodeKnownGroup(entry), { associatedData: sealedAd(entry.key) }),
        (sealed) => utf8.encode(Schema.encodeSync(SealedJson)({ v: 2, sealed })),
      )

/**
 * A stored entry, sealed or not, and whether it was stored sealed. A sealed one needs
 * `storageKey`; a plain one is read as it is (a data dir from before its passphrase).
 */
export const openKnownGroup = (
  key: RecordKey,
  bytes: Uint8Array,
  storageKey: SecretKey | undefined,
): Effect.Effect<{ readonly entry: KnownGroup; readonly sealed: boolean }, InvalidKnownGroup> =>
  Effect.gen(function* () {
    const text = yield* Effect.try({
      try: () => fromUtf8.decode(bytes),
      catch: () => new InvalidKnownGroup({ key, message: "not UTF-8" }),
    })
    const sealed = Schema.decodeUnknownOption(SealedJson)(text)
    if (Option.isNone(sealed)) return { entry: yield* decodeKnownGroup(key, bytes), sealed: false }
    if (storageKey === undefined)
      return yield* new InvalidKnownGroup({
        key,
        message: "sealed with this data dir's passphrase, and none was given",
      })
    const plain = yield* openEnvelope(storageKey, sealed.value.sealed, {
      associatedData: sealedAd(key),
    }).pipe(
      Effect.mapError(
        () => new InvalidKnownGroup({ key, message: "does not open with the passphrase's key" }),
      ),
    )
    return { entry: yield* decodeKnownGroup(key, plain), sealed: true }
  })

/** Bytes by group key: what a `KnownGroupsStore` keeps, wherever it keeps it. */
interface RawTable {
  readonly keys: Effect.Effect<ReadonlyArray<string>, VeilidError>
  readonly load: (key: string) => Effect.Effect<Option.Option<Uint8Array>, VeilidError>
  readonly store: (key: string, bytes: Uint8Array) => Effect.Effect<void, VeilidError>
  readonly remove: (key: string) => Effect.Effect<void, VeilidError>
}

/**
 * Known groups over `raw`. With `storageKey`, entries are written sealed, and one read
 * plain (stored before the passphrase was set) is sealed again on the spot.
 */
const knownGroupsOver = (raw: RawTable, storageKey: SecretKey | undefined): KnownGroupsStore => {
  const get = (key: RecordKey) =>
    Effect.gen(function* () {
      const bytes = yield* raw.load(key)
      if (Option.isNone(bytes)) return Option.none<KnownGroup>()
      const { entry, sealed } = yield* openKnownGroup(key, bytes.value, storageKey)
      if (storageKey !== undefined && !sealed)
        yield* raw.store(key, yield* sealKnownGroup(entry, storageKey))
      return Option.some(entry)
    })
  return {
    all: Effect.flatMap(raw.keys, (keys) => Effect.forEach(keys, get, { concurrency: 1 })).pipe(
      Effect.map((found) => found.flatMap((o) => (Option.isSome(o) ? [o.value] : []))),
    ),
    get,
    put: (entry) =>
      Effect.flatMap(sealKnownGroup(entry, storageKey), (bytes) => raw.store(entry.key, bytes)),
    remove: (key) => raw.remove(key),
  }
}

/** Table store database name; one column, key = group record key (UTF-8). */
export const KNOWN_GROUPS_DB = "save-dweb-groups"
const column = 0

/**
 * Known groups in Veilid's table store, open for the scope's lifetime. With `storageKey`
 * every entry is sealed under it; plain ones left from before are sealed at open.
 */
export const tableStoreKnownGroups = (
  veilid: VeilidShape,
  storageKey?: SecretKey,
): Effect.Effect<KnownGroupsStore, VeilidError, Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* veilid.openTableDb(KNOWN_GROUPS_DB, 1)
    const store = knownGroupsOver(
      {
        keys: Effect.map(db.keys(column), (keys) => keys.map((k) => fromUtf8.decode(k))),
        load: (key) => db.load(column, utf8.encode(key)),
        store: (key, bytes) => db.store(column, utf8.encode(key), bytes),
        remove: (key) => Effect.asVoid(db.delete(column, utf8.encode(key))),
      },
      storageKey,
    )
    // Each plain entry is sealed now; a damaged one stays as it is (it fails on read).
    if (storageKey !== undefined)
      yield* Effect.flatMap(db.keys(column), (keys) =>
        Effect.forEach(keys, (k) => Effect.ignore(store.get(fromUtf8.decode(k))), {
          discard: true,
        }),
      )
    return store
  })

/**
 * Known groups in a map that outlives the backends made on it (unit tests of restarts).
 * Values go through the same encoding (and sealing, with `storageKey`) as the table store;
 * `raw` is the map of stored bytes, to share between stores or look at.
 */
export const memoryKnownGroups = (
  options: { readonly storageKey?: SecretKey; readonly raw?: Map<string, Uint8Array> } = {},
): KnownGroupsStore => {
  const map = options.raw ?? new Map<string, Uint8Array>()
  return knownGroupsOver(
    {
      keys: Effect.sync(() => [...map.keys()]),
      load: (key) => Effect.sync(() => Option.fromNullishOr(map.get(key))),
      store: (key, bytes) => Effect.sync(() => void map.set(key, bytes)),
      remove: (key) => Effect.sync(() => void map.delete(key)),
    },
    options.storageKey,
  )
}
