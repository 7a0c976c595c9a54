// The bearer token: 32 random bytes, base64url, made on first start and kept in
// `<dataDir>/rpc-token` with mode 0600 (a looser mode found there is tightened).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Data, Effect } from "effect"

export const TOKEN_FILE = "rpc-token"

/** The token file could not be read or written. */
export class TokenFileError extends Data.TaggedError("TokenFileError")<{
  readonly path: string
  readonly message: string
}> {}

const TOKEN = /^[A-Za-z0-9_-]{43}$/

/** A new token: 32 random bytes, base64url without padding (43 characters). */
export const generateToken = (): string => randomBytes(32).toString("base64url")

/**
 * The token kept in `dataDir` (made there on first use). A file whose content is not a
 * token is replaced; one readable by others is made 0600 again.
 */
export const loadOrCreateToken = (
  dataDir: string,
): Effect.Effect<{ readonly token: string; readonly path: string }, TokenFileError> => {
  const path = join(dataDir, TOKEN_FILE)
  const fail = (cause: unknown) =>
    new TokenFileError({
      path,
      message: cause instanceof Error ? cause.message : String(cause),
    })
  return Effect.tryPromise({
    try: async () => {
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      const existing = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT") return undefined
        throw e
      })
      const current = existing?.trim()
      if (current !== undefined && TOKEN.test(current)) {
        if (((await stat(path)).mode & 0o777) !== 0o600) await chmod(path, 0o600)
        return { token: current, path }
      }
      const token = generateToken()
      await writeFile(path, `${token}\n`, { mode: 0o600 })
      // `mode` applies only when the file is created; a replaced file keeps its own.
      await chmod(path, 0o600)
      return { token, path }
    },
    catch: fail,
  })
}

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest()

/** Compares two tokens in time that does not depend on where they differ. */
export const tokensEqual = (given: string, expected: string): boolean =>
  timingSafeEqual(digest(given), digest(expected))
