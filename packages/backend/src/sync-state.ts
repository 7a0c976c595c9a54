// data-repo's sync state (the roots `syncAll` holds and the pins of other members' files, per
// group) in Veilid's table store, so a restarted node frees what an earlier run synced or
// pinned once the owner deletes, and its start-up sweep knows what is referenced. The
// daemon keeps it in a database of its own; the backup server in a column of its state's.
import { type SyncStateStore, syncStateOver } from "@save-dweb/data-repo"
import type { TableDb, VeilidError, VeilidShape } from "@save-dweb/veilid"
import { Effect, type Scope } from "effect"

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder("utf-8", { fatal: true })

/** The sync state in `column` of `db`: one value per group, keyed by its record key (UTF-8). */
export const syncStateInTable = (db: TableDb, column: number): SyncStateStore =>
  syncStateOver<VeilidError>({
    load: (group) => db.load(column, utf8.encode(group)),
    store: (group, bytes) => db.store(column, utf8.encode(group), bytes),
    remove: (group) => Effect.asVoid(db.delete(column, utf8.encode(group))),
    keys: Effect.map(db.keys(column), (keys) => keys.map((k) => fromUtf8.decode(k))),
  })

/** Table store database of a member node's sync state; one column. */
export const SYNC_STATE_DB = "save-dweb-sync-state"

/** A member node's sync state (what `makeNode` gives data-repo), open for the scope's life. */
export const tableStoreSyncState = (
  veilid: VeilidShape,
): Effect.Effect<SyncStateStore, VeilidError, Scope.Scope> =>
  Effect.map(veilid.openTableDb(SYNC_STATE_DB, 1), (db) => syncStateInTable(db, 0))
