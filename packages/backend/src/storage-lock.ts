// A data dir locked with a passphrase: `passphrase.json` beside the stores holds the key
// derivation's parameters and a check value sealed under the derived key. It is read
// before Veilid starts, so a missing or wrong passphrase is refused at once; the key then
// protects Veilid's table store (its device key, `veilidStoragePassword`) and, under that,
// seals what the backend keeps of each group (`tableStoreKnownGroups`).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import {
  deriveKey,
  derivePassphraseKey,
  newPassphraseKdf,
  openEnvelope,
  PassphraseKdf,
  type PassphraseKdfError,
  type SecretKey,
  sealEnvelope,
} from "@save-dweb/crypto"
import { Data, Effect, Redacted, Schema } from "effect"

export const STORAGE_LOCK_FILE = "passphrase.json"

const LockFile = Schema.Struct({
  v: Schema.Literal(1),
  kdf: PassphraseKdf,
  /** `CHECK` sealed under the derived key: opens only with the right passphrase. */
  check: Schema.Uint8ArrayFromBase64Url,
})
const LockJson = Schema.fromJsonString(LockFile)
const CHECK = new TextEncoder().encode("save-dweb/backend/storage-lock/v1")

/** The data dir is locked with a passphrase and none was given. */
export class PassphraseRequired extends Data.TaggedError("PassphraseRequired")<{
  readonly dir: string
}> {
  override get message() {
    return `the data dir ${this.dir} is locked with a passphrase: give it with --passphrase-file FILE`
  }
}

/** The passphrase given is not the one the data dir was locked with. */
export class WrongPassphrase extends Data.TaggedError("WrongPassphrase")<{
  readonly dir: string
}> {
  override get message() {
    return `the passphrase does not unlock the data dir ${this.dir}`
  }
}

/** `passphrase.json` cannot be read or written, or is not one. */
export class StorageLockError extends Data.TaggedError("StorageLockError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `${this.path}: ${this.reason}`
  }
}

export type UnlockError = PassphraseRequired | WrongPassphrase | StorageLockError

/** A data dir's storage key, and whether its lock was made just now (first passphrase). */
export interface UnlockedStorage {
  readonly key: SecretKey
  /** The lock file is new: the stores were not protected by this key until now. */
  readonly fresh: boolean
}

/**
 * The password that protects Veilid's device encryption key (and so its whole table
 * store): a subkey of the storage key, so the key that seals known groups never leaves
 * this process's JavaScript.
 */
export const veilidStoragePassword = (storage: UnlockedStorage): string =>
  Buffer.from(Redacted.value(deriveKey(storage.key, "veilid-device-key"))).toString("base64url")

/** `path`'s text as a passphrase: one trailing newline dropped; empty is refused. */
export const readPassphraseFile = (
  path: string,
): Effect.Effect<Redacted.Redacted<Uint8Array>, StorageLockError> =>
  Effect.try({
    try: () => readFileSync(path),
    catch: (cause) => new StorageLockError({ path, reason: (cause as Error).message }),
  }).pipe(
    Effect.flatMap((bytes) => {
      const text = bytes.toString("utf8").replace(/\r?\n$/, "")
      return text.length === 0
        ? Effect.fail(new StorageLockError({ path, reason: "the passphrase file is empty" }))
        : Effect.succeed(Redacted.make(new TextEncoder().encode(text)))
    }),
  )

export const storageLockPath = (dir: string) => join(dir, STORAGE_LOCK_FILE)

/** Whether `dir` is locked with a passphrase. */
export const isStorageLocked = (dir: string): boolean => existsSync(storageLockPath(dir))

/**
 * The key that protects `dir`'s stores: derived from `passphrase` with the
 * parameters in `dir/passphrase.json`, checked against it; the first time a passphrase is
 * given, the file is made (with `kdf`, default `newPassphraseKdf`). `undefined` when `dir`
 * is not locked and no passphrase is given. A locked dir without a passphrase, or with
 * another one, is refused.
 */
export const unlockStorage = (
  dir: string,
  passphrase: Redacted.Redacted<Uint8Array> | undefined,
  options: { readonly kdf?: Effect.Effect<PassphraseKdf> } = {},
): Effect.Effect<UnlockedStorage | undefined, UnlockError | PassphraseKdfError> =>
  Effect.gen(function* () {
    const path = storageLockPath(dir)
    const broken = (reason: string) => new StorageLockError({ path, reason })
    if (!existsSync(path)) {
      if (passphrase === undefined) return undefined
      const kdf = yield* options.kdf ?? newPassphraseKdf
      const key = yield* derivePassphraseKey(passphrase, kdf)
      const check = yield* sealEnvelope(key, CHECK)
      yield* Effect.try({
        try: () => {
          mkdirSync(dir, { recursive: true, mode: 0o700 })
          const tmp = `${path}.${process.pid}.tmp`
          writeFileSync(tmp, `${Schema.encodeSync(LockJson)({ v: 1, kdf, check })}\n`, {
            mode: 0o600,
          })
          renameSync(tmp, path)
        },
        catch: (cause) => broken((cause as Error).message),
      })
      return { key, fresh: true }
    }
    if (passphrase === undefined) return yield* new PassphraseRequired({ dir })
    const text = yield* Effect.try({
      try: () => readFileSync(path, "utf8"),
      catch: (cause) => broken((cause as Error).message),
    })
    const lock = yield* Schema.decodeUnknownEffect(LockJson)(text.trim()).pipe(
      Effect.mapError((e) => broken(`not a passphrase lock: ${e.message}`)),
    )
    const key = yield* derivePassphraseKey(passphrase, lock.kdf)
    yield* openEnvelope(key, lock.check).pipe(Effect.mapError(() => new WrongPassphrase({ dir })))
    return { key, fresh: false }
  }).pipe(Effect.withSpan("Backend.unlockStorage"))

/**
 * At a process's start: the passphrase read from `file` (if one is given) unlocks `dir`,
 * or the start is refused (see `unlockStorage`).
 */
export const unlockWithPassphraseFile = (
  dir: string,
  file: string | undefined,
): Effect.Effect<UnlockedStorage | undefined, UnlockError | PassphraseKdfError> =>
  Effect.flatMap(file === undefined ? Effect.succeed(undefined) : readPassphraseFile(file), (p) =>
    unlockStorage(dir, p),
  )
