// A data dir locked with a passphrase: the lock file, wrong or missing passphrases, and
// known groups sealed under the storage key (memory store; the table store on the testnet
// is in storage-lock.integration.test.ts).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { newPassphraseKdf } from "@save-dweb/crypto"
import { Effect, Option, Redacted } from "effect"
import {
  type KnownGroup,
  makeNode,
  memoryKnownGroups,
  readPassphraseFile,
  STORAGE_LOCK_FILE,
  unlockStorage,
  veilidStoragePassword,
} from "../src/index.ts"
import { failureOf } from "./support.ts"

const pass = (text: string) => Redacted.make(new TextEncoder().encode(text))
// Small enough for a unit test.
const light = {
  kdf: Effect.map(newPassphraseKdf, (k) => ({ ...k, memoryKiB: 8 * 1024, passes: 1 })),
}

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "storage-lock-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
)

const entry: KnownGroup = {
  key: "VLD0:group",
  credentials: new TextEncoder().encode("the-group-secret-credentials"),
  repo: { key: "VLD0:repo", owner: "VLD0:pub:owner-secret" },
  name: "Newsroom",
  tier: "manage",
  // A backup server's link, kept with its access secret for rotations.
  backups: ["save+dweb:backup?access-secret"],
}

/** Whether `haystack` holds `secret`, as bytes or in base64url (how JSON entries keep it). */
const contains = (haystack: Uint8Array, secret: Uint8Array) =>
  Buffer.from(haystack).includes(Buffer.from(secret)) ||
  Buffer.from(haystack).includes(Buffer.from(secret).toString("base64url"))

describe("storage lock", () => {
  it.effect("a passphrase locks a data dir; the same one unlocks it, another is refused", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      assert.isUndefined(yield* unlockStorage(dir, undefined))
      const first = yield* unlockStorage(dir, pass("correct horse"), light)
      assert.isTrue(first?.fresh)
      assert.strictEqual(statSync(join(dir, STORAGE_LOCK_FILE)).mode & 0o777, 0o600)
      const again = yield* unlockStorage(dir, pass("correct horse"))
      assert.isFalse(again?.fresh)
      assert.deepStrictEqual(again && Redacted.value(again.key), first && Redacted.value(first.key))
      const wrong = yield* failureOf(unlockStorage(dir, pass("correct horsf")))
      assert.strictEqual(wrong._tag, "WrongPassphrase")
      assert.match(wrong.message, /does not unlock/)
      const none = yield* failureOf(unlockStorage(dir, undefined))
      assert.strictEqual(none._tag, "PassphraseRequired")
      assert.match(none.message, /--passphrase-file/)
      // The file holds the parameters and a check value, nothing derived from the key.
      const text = readFileSync(join(dir, STORAGE_LOCK_FILE), "utf8")
      assert.match(text, /"algorithm":"argon2id"/)
      if (first !== undefined) {
        const key = Buffer.from(Redacted.value(first.key)).toString("base64url")
        assert.notInclude(text, key)
        assert.notInclude(text, veilidStoragePassword(first))
      }
    }),
  )

  it.effect("a damaged lock file is a StorageLockError, not a wrong passphrase", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      writeFileSync(join(dir, STORAGE_LOCK_FILE), '{"v":1,"kdf":{"algorithm":"argon2id"}}')
      const error = yield* failureOf(unlockStorage(dir, pass("x")))
      assert.strictEqual(error._tag, "StorageLockError")
    }),
  )

  it.effect("a passphrase file loses one trailing newline; an empty one is refused", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = join(dir, "pass")
      writeFileSync(file, "two words \n")
      const read = yield* readPassphraseFile(file)
      assert.strictEqual(new TextDecoder().decode(Redacted.value(read)), "two words ")
      writeFileSync(file, "\n")
      assert.strictEqual((yield* failureOf(readPassphraseFile(file)))._tag, "StorageLockError")
      const missing = yield* failureOf(readPassphraseFile(join(dir, "absent")))
      assert.strictEqual(missing._tag, "StorageLockError")
    }),
  )

  it.effect("a locked data dir does not start without its passphrase (before Veilid)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* unlockStorage(dir, pass("correct horse"), light)
      const error = yield* failureOf(makeNode({ storageDir: dir }))
      assert.strictEqual(error._tag, "PassphraseRequired")
    }),
  )
})

describe("known groups under a storage key", () => {
  it.effect("are stored sealed, open with the key only, and plain ones are sealed on open", () =>
    Effect.gen(function* () {
      const storage = yield* newStorageKey
      const raw = new Map<string, Uint8Array>()
      const sealed = memoryKnownGroups({ storageKey: storage, raw })
      yield* sealed.put(entry)
      const stored = raw.get(entry.key)
      assert.isDefined(stored)
      if (stored === undefined) return
      const secrets = ["owner-secret", "access-secret"].map((s) => new TextEncoder().encode(s))
      for (const secret of [entry.credentials, ...secrets]) assert.isFalse(contains(stored, secret))
      assert.deepStrictEqual(Option.getOrUndefined(yield* sealed.get(entry.key)), entry)

      // Without the key, or with another, the entry is an InvalidKnownGroup.
      const without = yield* failureOf(memoryKnownGroups({ raw }).get(entry.key))
      assert.strictEqual(without._tag, "InvalidKnownGroup")
      const other = yield* newStorageKey
      const wrong = yield* failureOf(memoryKnownGroups({ storageKey: other, raw }).get(entry.key))
      assert.strictEqual(wrong._tag, "InvalidKnownGroup")

      // An entry stored before the passphrase was set reads, and is sealed at once.
      const before = new Map<string, Uint8Array>()
      yield* memoryKnownGroups({ raw: before }).put(entry)
      assert.isTrue(contains(before.get(entry.key) ?? new Uint8Array(), entry.credentials))
      assert.deepStrictEqual(yield* memoryKnownGroups({ storageKey: storage, raw: before }).all, [
        entry,
      ])
      assert.isFalse(contains(before.get(entry.key) ?? new Uint8Array(), entry.credentials))
    }),
  )
})

const newStorageKey = Effect.map(
  Effect.scoped(Effect.flatMap(tempDir, (dir) => unlockStorage(dir, pass("correct horse"), light))),
  (storage) => {
    if (storage === undefined) throw new Error("no storage key")
    return storage.key
  },
)
