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
    })),
  )

/** Table store database name; one column, key = group record key (UTF-8). */
export const KNOWN_GROUPS_DB = "save-dweb-groups"
const column = 0

/** Known groups in Veilid's table store, open for the scope's lifetime. */
export const tableStoreKnownGroups = (
  veilid: VeilidShape,
): Effect.Effect<KnownGroupsStore, VeilidError, Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* veilid.openTableDb(KNOWN_GROUPS_DB, 1)
    const get = (key: RecordKey) =>
      Effect.flatMap(db.load(column, utf8.encode(key)), (bytes) =>
        Option.isNone(bytes)
          ? Effect.succeedNone
          : Effect.map(decodeKnownGroup(key, bytes.value), Option.some),
      )
    return {
      all: Effect.flatMap(db.keys(column), (keys) =>
        Effect.forEach(keys, (k) => get(fromUtf8.decode(k)), { concurrency: 1 }),
      ).pipe(Effect.map((found) => found.flatMap((o) => (Option.isSome(o) ? [o.value] : [])))),
      get,
      put: (entry) => db.store(column, utf8.encode(entry.key), encodeKnownGroup(entry)),
      remove: (key) => Effect.asVoid(db.delete(column, utf8.encode(key))),
    }
  })

/**
 * Known groups in a map that outlives the backends made on it (unit tests of restarts).
 * Values go through the same encoding as the table store.
 */
export const memoryKnownGroups = (): KnownGroupsStore => {
  const map = new Map<RecordKey, Uint8Array>()
  const get = (key: RecordKey) => {
    const bytes = map.get(key)
    return bytes === undefined
      ? Effect.succeedNone
      : Effect.map(decodeKnownGroup(key, bytes), Option.some)
  }
  return {
    all: Effect.suspend(() => Effect.forEach([...map.keys()], get)).pipe(
      Effect.map((found) => found.flatMap((o) => (Option.isSome(o) ? [o.value] : []))),
    ),
    get,
    put: (entry) => Effect.sync(() => void map.set(entry.key, encodeKnownGroup(entry))),
    remove: (key) => Effect.sync(() => void map.delete(key)),
  }
}
