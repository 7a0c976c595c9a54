// The server's identity: made on first start (an access secret and a descriptor record it
// owns) and stored before anything is published, so its link stays the same from then on;
// the descriptor that link carries, and the record opened for writing its route.
import { backupKeysOf } from "@save-dweb/backend"
import { SecretKey } from "@save-dweb/crypto"
import { BACKUP_RECORD_SUBKEYS, BackupRecord } from "@save-dweb/data-repo"
import type { DhtRecordsShape } from "@save-dweb/dht-records"
import { BackupDescriptor, makeSecretKey } from "@save-dweb/uri-scheme"
import { Effect, Option, Redacted } from "effect"
import type { ServerStateStore } from "./state.ts"

/** The stored identity, or a new one made and stored. */
const loadOrCreateIdentity = (records: DhtRecordsShape, state: ServerStateStore) =>
  Effect.gen(function* () {
    const existing = yield* state.identity
    if (Option.isSome(existing)) return existing.value
    const access = Redacted.value(yield* SecretKey.generate)
    const keys = yield* backupKeysOf(access)
    const created = yield* records.create(BackupRecord, {
      schema: { kind: "DFLT", subkeys: BACKUP_RECORD_SUBKEYS },
      encryptionKey: keys.route,
    })
    const owner = Option.getOrUndefined(created.ownerKeyPair)
    if (owner === undefined) return yield* Effect.die(new Error("created record has no owner"))
    const made = { record: created.key, owner, access }
    // Stored before anything is published: the link stays the same from now on.
    yield* state.saveIdentity(made)
    yield* Effect.logInfo("backup-server: new identity").pipe(
      Effect.annotateLogs({ record: made.record }),
    )
    return made
  })

/**
 * The server's identity in the current scope: its keys (route and requests), the
 * descriptor (with `name` when given) and its descriptor record open for writing.
 */
export const openIdentity = (
  records: DhtRecordsShape,
  state: ServerStateStore,
  name: string | undefined,
) =>
  Effect.gen(function* () {
    const identity = yield* loadOrCreateIdentity(records, state)
    const keys = yield* backupKeysOf(identity.access)
    const descriptor = new BackupDescriptor({
      record: identity.record,
      accessSecret: makeSecretKey(identity.access),
      ...(name === undefined ? {} : { name }),
    })
    const record = yield* records.open(BackupRecord, identity.record, {
      encryptionKey: keys.route,
      writer: identity.owner,
    })
    return { identity, keys, descriptor, record }
  })
