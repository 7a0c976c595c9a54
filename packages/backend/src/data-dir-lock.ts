// One process per data dir, from its first instant: the daemon and the backup server take
// an OS lock on `<dataDir>/lock` before Veilid starts. The kernel releases it when the
// process dies (`kill -9` included), so a crash never leaves a data dir "in use", and a
// second process on the same dir learns at once who holds it. The file's text (pid,
// program, start time) is information only: the lock is the truth.
import { join } from "node:path"
import { lockFile, lockFileHolder, type VeilidError } from "@save-dweb/veilid"
import { Data, Effect, Option, Schema } from "effect"

export const DATA_DIR_LOCK_FILE = "lock"

export const dataDirLockPath = (dataDir: string) => join(dataDir, DATA_DIR_LOCK_FILE)

/** Who holds a data dir, as its holder wrote it. */
export class LockOwner extends Schema.Class<LockOwner>("LockOwner")({
  pid: Schema.Int,
  program: Schema.String,
  startedAt: Schema.String,
}) {}

const LockOwnerJson = Schema.fromJsonString(LockOwner)

/** Another process holds the data dir. `owner` is undefined while it is still writing its name. */
export class DataDirLocked extends Data.TaggedError("DataDirLocked")<{
  readonly dataDir: string
  readonly owner: LockOwner | undefined
}> {
  override get message() {
    const who =
      this.owner === undefined
        ? "another process"
        : `${this.owner.program} (pid ${this.owner.pid}, since ${this.owner.startedAt})`
    return `${this.dataDir} is in use by ${who}`
  }
}

const ownerOf = (text: string): LockOwner | undefined =>
  Option.getOrUndefined(Schema.decodeUnknownOption(LockOwnerJson)(text))

/** Takes the data dir's lock for the rest of this process's life, or says who holds it. */
export const lockDataDir = (
  dataDir: string,
  program: string,
): Effect.Effect<LockOwner, DataDirLocked | VeilidError> =>
  Effect.gen(function* () {
    const me = new LockOwner({ pid: process.pid, program, startedAt: new Date().toISOString() })
    const held = yield* lockFile(dataDirLockPath(dataDir), Schema.encodeSync(LockOwnerJson)(me))
    if (Option.isSome(held))
      return yield* new DataDirLocked({ dataDir, owner: ownerOf(held.value) })
    return me
  })

/**
 * Who holds the data dir's lock now: `None` when no process does (nothing runs there, or
 * it died). `Some(undefined)` for a holder that has not written its name yet.
 */
export const dataDirHolder = (
  dataDir: string,
): Effect.Effect<Option.Option<LockOwner | undefined>, VeilidError> =>
  Effect.map(lockFileHolder(dataDirLockPath(dataDir)), Option.map(ownerOf))
