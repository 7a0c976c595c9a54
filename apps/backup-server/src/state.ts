// What the backup server keeps besides its groups' credentials (backend's known-groups
// store): its identity (descriptor record, its owner key pair, the access secret) and, per
// group, the root it holds for each repo (data-repo's sync state), so a restart frees what
// an earlier run synced. Veilid's table store in production, maps in unit tests; both
// store the same versioned JSON.
import { syncStateInTable } from "@save-dweb/backend"
import { memorySyncState, type SyncStateStore } from "@save-dweb/data-repo"
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
  /** The roots held per group (data-repo's `syncState`; its `groups` are those with roots). */
  readonly roots: SyncStateStore
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
      roots: syncStateInTable(db, ROOTS_COLUMN),
    }
  })

/** The same state in maps that outlive the servers made on them (restarts in unit tests). */
export const memoryServerState = (): ServerStateStore => {
  let identity: Uint8Array | undefined
  return {
    identity: Effect.suspend(() =>
      identity === undefined ? Effect.succeedNone : Effect.asSome(decodeIdentity(identity)),
    ),
    saveIdentity: (value) =>
      Effect.sync(() => {
        identity = encodeIdentity(value)
      }),
    roots: memorySyncState(),
  }
}
