// A key from a person's passphrase, to lock what a data dir keeps (the backend's group
// credentials). Argon2id (RFC 9106): the standard libsodium-wrappers build has no
// crypto_pwhash (only the sumo build, a second WebAssembly module of about 1 MB), and
// Node 24's node:crypto has Argon2id natively. Node only: node:crypto is imported lazily
// so the rest of this package stays usable where it is absent.
import { Data, Effect, Redacted, Schema } from "effect"
import { unsafeSecret } from "./branded.ts"
import { randomBytes } from "./bytes.ts"
import type { SecretKey } from "./keys.ts"

const Int = (min: number, max: number) =>
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(min), Schema.isLessThanOrEqualTo(max))

/**
 * The derivation's parameters, stored beside what the key locks (none of them secret).
 * The bounds refuse a stored file that would make the derivation trivial or exhaust memory.
 */
export const PassphraseKdf = Schema.Struct({
  algorithm: Schema.Literal("argon2id"),
  /** 16 random bytes per data dir. */
  salt: Schema.Uint8ArrayFromBase64Url,
  memoryKiB: Int(8 * 1024, 4 * 1024 * 1024),
  passes: Int(1, 64),
  parallelism: Int(1, 64),
})
export type PassphraseKdf = typeof PassphraseKdf.Type

/** RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes (0.25 s on two busy cores). */
export const newPassphraseKdf: Effect.Effect<PassphraseKdf> = Effect.map(
  randomBytes(16),
  (salt): PassphraseKdf => ({
    algorithm: "argon2id",
    salt,
    memoryKiB: 64 * 1024,
    passes: 3,
    parallelism: 4,
  }),
)

/** The derivation could not run (no Argon2id in this runtime, or bad parameters). */
export class PassphraseKdfError extends Data.TaggedError("PassphraseKdfError")<{
  readonly message: string
}> {}

/** The 32-byte key `kdf` derives from `passphrase` (its UTF-8 bytes, as given). */
export const derivePassphraseKey = (
  passphrase: Redacted.Redacted<Uint8Array>,
  kdf: PassphraseKdf,
): Effect.Effect<SecretKey, PassphraseKdfError> =>
  Effect.tryPromise({
    try: async () => {
      const { argon2 } = await import("node:crypto")
      const key = await new Promise<Buffer>((resolve, reject) =>
        argon2(
          "argon2id",
          {
            message: Redacted.value(passphrase),
            nonce: kdf.salt,
            parallelism: kdf.parallelism,
            tagLength: 32,
            memory: kdf.memoryKiB,
            passes: kdf.passes,
          },
          (error, derived) => (error === null ? resolve(derived) : reject(error)),
        ),
      )
      return unsafeSecret("SecretKey", new Uint8Array(key))
    },
    catch: (cause) =>
      new PassphraseKdfError({ message: `Argon2id failed: ${(cause as Error).message}` }),
  }).pipe(Effect.withSpan("Crypto.derivePassphraseKey"))
