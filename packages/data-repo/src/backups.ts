// Backup servers as sources. A backup server publishes its current private route in a DHT
// record of its own (its descriptor link's `record`), sealed with a key derived from the
// descriptor's access secret. A member who registers a group with a backup lists the
// record and that route key (never the access secret) in its repo record, so the other
// members can find the server and fetch from it, over the group's blob protocol and
// behind the group's tunnel key like from any member, but cannot manage it.
import { deriveKey, SecretKey } from "@save-dweb/crypto"
import { type DhtRecordsShape, defineRecord } from "@save-dweb/dht-records"
import { Effect, Option } from "effect"
import { type BackupRef, RouteValue } from "./record.ts"

/** `deriveKey(accessSecret, …)` name of the key that seals a descriptor record's values. */
export const BACKUP_ROUTE_KEY_NAME = "save-dweb/backup/route"

/** The key a backup's descriptor record is sealed with, from its access secret. */
export const backupRouteKey = (accessSecret: SecretKey): SecretKey =>
  deriveKey(accessSecret, BACKUP_ROUTE_KEY_NAME)

/**
 * A backup server's descriptor record: a DFLT record of one subkey owned by the server,
 * holding its current route (`null` while it is stopped), sealed with `backupRouteKey`.
 */
export const BackupRecord = defineRecord("backup-server", { 0: RouteValue })
export type BackupRecord = typeof BackupRecord
export const BACKUP_RECORD_SUBKEYS = 1
export const BACKUP_ROUTE_SUBKEY = 0 as const

/** The route key as the key type dht-records takes (32 bytes by the record's Schema). */
export const routeKeyOf = (ref: Pick<BackupRef, "routeKey">): Effect.Effect<SecretKey> =>
  SecretKey.fromBytes(ref.routeKey).pipe(Effect.orDie)

/**
 * The route a backup server publishes now (none while it is stopped), read from the
 * network. Fails as dht-records does: `RecordNotFound`, `RecordDecryptFailed` (a wrong
 * route key), `RecordTimeout`, ...
 */
export const readBackupRoute = (
  records: DhtRecordsShape,
  ref: Pick<BackupRef, "record" | "routeKey">,
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const record = yield* records.open(BackupRecord, ref.record, {
        encryptionKey: yield* routeKeyOf(ref),
      })
      const entry = yield* record.get(BACKUP_ROUTE_SUBKEY, { refresh: true })
      return Option.flatMap(entry, (e) => Option.fromNullishOr(e.value.route))
    }),
  )
