// A data dir locked with a passphrase, on the testnet with real Veilid and Iroh stores,
// looked at from outside: its files hold no group secret, a copy without the passphrase
// does not open, a wrong passphrase is refused and the right one gives the groups back.
import { cpSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { type LoadedGroup, STORAGE_LOCK_FILE, unlockStorage } from "../src/index.ts"
import { failureOf } from "./support.ts"
import { eventually, Net, NetLive, start, tempDir, timeout } from "./testnet.ts"

const pass = (text: string) => Redacted.make(new TextEncoder().encode(text))
const passphrase = pass("correct horse battery staple")

/** The group's secrets (group and manage secrets, the repo's owner key) as raw bytes. */
const secretsOf = (g: LoadedGroup): ReadonlyArray<Uint8Array> => {
  const cap = g.group.credentials.capability
  const owner = Option.getOrThrow(Option.getOrThrow(g.repo).credentials).owner
  return [
    ...(cap._tag === "ManageCapability"
      ? [Redacted.value(cap.groupSecret), Redacted.value(cap.manageSecret)]
      : []),
    Buffer.from(owner.split(":").at(-1) ?? "", "base64url"),
  ]
}

/** Each file under `dir` that holds one of `secrets` as bytes, base64url, base64 or hex. */
const filesHolding = (dir: string, secrets: ReadonlyArray<Uint8Array>): ReadonlyArray<string> =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((file) => {
      const bytes = readFileSync(file)
      return secrets.some((secret) => {
        const s = Buffer.from(secret)
        return [s, s.toString("base64url"), s.toString("base64"), s.toString("hex")].some((form) =>
          bytes.includes(form),
        )
      })
    })

/** `started` fails because Veilid cannot open its device encryption key. */
const refusedByVeilid = <A, E extends { readonly _tag: string; readonly message: string }, R>(
  started: Effect.Effect<A, E, R>,
) =>
  Effect.gen(function* () {
    const error = yield* failureOf(Effect.scoped(started))
    assert.strictEqual(error._tag, "VeilidInternal")
    assert.match(error.message, /device encryption key/, error.message)
  })

layer(NetLive, { excludeTestServices: true, timeout: 300_000 })(
  "a data dir locked with a passphrase",
  (it) => {
    it.effect(
      "holds no group secret in its files; a copy without the passphrase does not open; the wrong passphrase is refused, the right one gives the group back",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const dir = yield* tempDir
          const storage = yield* unlockStorage(dir, passphrase)
          const first = yield* start(testnet, "alice", dir, storage && { storage })
          const g = yield* first.backend.createGroup("Field notes", { memberName: "Alice" })
          const secrets = secretsOf(g)
          assert.strictEqual(secrets.length, 3)
          yield* first.stop
          assert.deepStrictEqual(filesHolding(dir, secrets), [])

          // A copy without its lock file and passphrase: Veilid's table store does not open.
          const copy = yield* tempDir
          cpSync(dir, copy, { recursive: true })
          rmSync(join(copy, STORAGE_LOCK_FILE))
          yield* refusedByVeilid(start(testnet, "alice", copy))

          const none = yield* failureOf(start(testnet, "alice", dir))
          assert.strictEqual(none._tag, "PassphraseRequired")
          const wrong = yield* failureOf(unlockStorage(dir, pass("correct horse battery stapler")))
          assert.strictEqual(wrong._tag, "WrongPassphrase")

          const unlocked = yield* unlockStorage(dir, passphrase)
          assert.isFalse(unlocked?.fresh)
          const second = yield* start(testnet, "alice", dir, unlocked && { storage: unlocked })
          assert.deepStrictEqual(
            (yield* second.backend.listGroups).map((s) => [s.key, s.name, s.tier]),
            [[g.key, "Field notes", "manage"]],
          )
          const reloaded = yield* eventually("alice reloads", second.backend.loadGroup(g.key))
          assert.strictEqual((yield* reloaded.group.info).name, "Field notes")
          yield* second.stop
        }),
      timeout,
    )

    it.effect(
      "a data dir used before its passphrase keeps its groups (also after a crash as it was first locked) and holds no group secret after",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const dir = yield* tempDir
          const before = yield* start(testnet, "bob", dir)
          const g = yield* before.backend.createGroup("Archive", { memberName: "Bob" })
          const secrets = secretsOf(g)
          yield* before.stop

          const storage = yield* unlockStorage(dir, passphrase)
          assert.isTrue(storage?.fresh)
          // As after a crash between the lock file and Veilid's first start with it: the
          // lock says "not fresh", Veilid's device key is still unprotected.
          const crashed = yield* unlockStorage(dir, passphrase)
          assert.isFalse(crashed?.fresh)
          const after = yield* start(testnet, "bob", dir, crashed && { storage: crashed })
          assert.deepStrictEqual(
            (yield* after.backend.listGroups).map((s) => [s.key, s.name]),
            [[g.key, "Archive"]],
          )
          yield* after.stop
          assert.deepStrictEqual(filesHolding(dir, secrets), [])

          const copy = yield* tempDir
          cpSync(dir, copy, { recursive: true })
          rmSync(join(copy, STORAGE_LOCK_FILE))
          yield* refusedByVeilid(start(testnet, "bob", copy))
        }),
      timeout,
    )
  },
)
