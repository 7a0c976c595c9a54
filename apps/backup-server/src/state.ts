// What the backup server keeps besides its groups' credentials (backend's known-groups
// store): its identity (descriptor record, its owner key pair, the access secret) and, per
// group, the root it holds for each repo (data-repo's sync state), so a restart frees what
// an earlier run synced. Veilid's table store in production, maps in unit tests; both
// store the same versioned JSON.
import { type BlobHash, isBlobHash } from "@save-dweb/blob-store"
import type { SyncStateStore } from "@save-dweb/data-repo"
import type { KeyPair, RecordKey } from "@save-dweb/dht-records"
import type { VeilidError, VeilidShape } from "@save-dweb/veilid"
import { Data, Effect, Option, Schema, type Scope } from "effect"

/** Who the server is: where it publishes its route, and the secret its link carries. */
export interface ServerIdentity {
  /** The descriptor record (a DFLT record of one subkey). */
  readonly record: RecordKey
  /** Its owner key pair: Veilid does not keep it across restarts. */
  readonly owner: KeyPair
  /** The descriptor's 32-byte access secret. */
  readonly access: Uint8Array
}

/** A stored entry that does not decode (damaged table store, or a newer version's). */
export class InvalidServerState extends Data.TaggedError("InvalidServerState")<{
  readonly what: string
  readonly message: string
}> {}

export interface ServerStateStore {
  readonly identity: Effect.Effect<Option.Option<ServerIdentity>, VeilidError | InvalidServerState>
  readonly saveIdentity: (identity: ServerIdentity) => Effect.Effect<void, VeilidError>
  /** The roots held per group (data-repo's `syncState`). */
  readonly roots: SyncStateStore
  /** Groups that have saved roots. */
  readonly rootGroups: Effect.Effect<ReadonlyArray<RecordKey>, VeilidError>
}

const IdentityWire = Schema.Struct({
  v: Schema.Literal(1),
  record: Schema.String,
  owner: Schema.String,
  access: Schema.Uint8ArrayFromBase64Url.check(
    Schema.makeFilter((b: Uint8Array) => (b.length === 32 ? undefined : "expected 32 bytes")),
  ),
})
const IdentityJson = Schema.fromJsonString(IdentityWire)

const RootsWire = Schema.Struct({
  v: Schema.Literal(1),
  roots: Schema.Record(Schema.String, Schema.String),
})
const RootsJson = Schema.fromJsonString(RootsWire)

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder("utf-8", { fatal: true })

const text = (what: string, bytes: Uint8Array) =>
  Effect.try({
    try: () => fromUtf8.decode(bytes),
    catch: () => new InvalidServerState({ what, message: `${what}: not UTF-8` }),
  })

export const encodeIdentity = (identity: ServerIdentity): Uint8Array =>
  utf8.encode(
    Schema.encodeSync(IdentityJson)({
      v: 1,
      record: identity.record,
      owner: identity.owner,
      access: identity.access,
    }),
  )

export const decodeIdentity = (bytes: Uint8Array) =>
  Effect.flatMap(text("identity", bytes), (json) =>
    Schema.decodeUnknownEffect(IdentityJson)(json).pipe(
      Effect.mapError(
        // The Schema's message could quote the secret: it is left out.
        () => new InvalidServerState({ what: "identity", message: "identity: not version 1" }),
      ),
      Effect.map((w): ServerIdentity => ({ record: w.record, owner: w.owner, access: w.access })),
    ),
  )

export const encodeRoots = (roots: ReadonlyMap<RecordKey, BlobHash>): Uint8Array =>
  utf8.encode(Schema.encodeSync(RootsJson)({ v: 1, roots: Object.fromEntries(roots) }))

export const decodeRoots = (group: RecordKey, bytes: Uint8Array) =>
  Effect.flatMap(text(`roots of ${group}`, bytes), (json) =>
    Schema.decodeUnknownEffect(RootsJson)(json).pipe(
      Effect.mapError(
        (e) => new InvalidServerState({ what: `roots of ${group}`, message: e.message }),
      ),
      Effect.flatMap((w) => {
        const entries = Object.entries(w.roots)
        const bad = entries.find(([, hash]) => !isBlobHash(hash))
        return bad === undefined
          ? Effect.succeed(new Map(entries as Array<[RecordKey, BlobHash]>))
          : Effect.fail(
              new InvalidServerState({
                what: `roots of ${group}`,
                message: `roots of ${group}: not a blob hash: ${bad[1]}`,
              }),
            )
      }),
    ),
  )

/**
 * A sync state over raw bytes. A root set that cannot be read or written is logged and
 * taken as empty (the start-up sweep then frees its blobs and the next pass fetches again):
 * losing a copy is better than a server that no longer starts.
 */
const rootsOver = (
  load: (group: RecordKey) => Effect.Effect<Option.Option<Uint8Array>, VeilidError>,
  store: (group: RecordKey, bytes: Uint8Array) => Effect.Effect<void, VeilidError>,
  remove: (group: RecordKey) => Effect.Effect<void, VeilidError>,
): SyncStateStore => ({
  load: (group) =>
    load(group).pipe(
      Effect.flatMap((bytes) =>
        Option.isNone(bytes)
          ? Effect.succeed(new Map<RecordKey, BlobHash>())
          : decodeRoots(group, bytes.value),
      ),
      Effect.catch((e) =>
        Effect.as(
          Effect.logError("backup-server: could not read a group's roots", e),
          new Map<RecordKey, BlobHash>(),
        ),
      ),
    ),
  save: (group, roots) =>
    (roots.size === 0 ? remove(group) : store(group, encodeRoots(roots))).pipe(
      Effect.catch((e) => Effect.logError("backup-server: could not save a group's roots", e)),
    ),
})

/** Table store DB of the server's own state: column 0 identity, column 1 roots per group. */
export const SERVER_STATE_DB = "save-dweb-backup-server"
const IDENTITY_COLUMN = 0
const ROOTS_COLUMN = 1
const IDENTITY_KEY = utf8.encode("identity")

export const tableStoreServerState = (
  veilid: VeilidShape,
): Effect.Effect<ServerStateStore, VeilidError, Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* veilid.openTableDb(SERVER_STATE_DB, 2)
    return {
      identity: Effect.flatMap(db.load(IDENTITY_COLUMN, IDENTITY_KEY), (bytes) =>
        Option.isNone(bytes) ? Effect.succeedNone : Effect.asSome(decodeIdentity(bytes.value)),
      ),
      saveIdentity: (identity) => db.store(IDENTITY_COLUMN, IDENTITY_KEY, encodeIdentity(identity)),
      roots: rootsOver(
        (group) => db.load(ROOTS_COLUMN, utf8.encode(group)),
        (group, bytes) => db.store(ROOTS_COLUMN, utf8.encode(group), bytes),
        (group) => Effect.asVoid(db.delete(ROOTS_COLUMN, utf8.encode(group))),
      ),
      rootGroups: Effect.map(db.keys(ROOTS_COLUMN), (keys) => keys.map((k) => fromUtf8.decode(k))),
    }
  })

/** The same state in maps that outlive the servers made on them (restarts in unit tests). */
export const memoryServerState = (): ServerStateStore => {
  let identity: Uint8Array | undefined
  const roots = new Map<RecordKey, Uint8Array>()
  return {
    identity: Effect.suspend(() =>
      identity === undefined ? Effect.succeedNone : Effect.asSome(decodeIdentity(identity)),
    ),
    saveIdentity: (value) =>
      Effect.sync(() => {
        identity = encodeIdentity(value)
      }),
    roots: rootsOver(
      (group) => Effect.sync(() => Option.fromNullishOr(roots.get(group))),
      (group, bytes) => Effect.sync(() => void roots.set(group, bytes)),
      (group) => Effect.sync(() => void roots.delete(group)),
    ),
    rootGroups: Effect.sync(() => [...roots.keys()]),
  }
}
