// One-time sign-in codes: what `save-dweb ui` puts in a page's URL fragment so that the
// token itself never appears in a URL. Kept in memory only: a restart voids them all.
import { randomBytes } from "node:crypto"
import { tokensEqual } from "./token.ts"

/** How long a code works (ms): long enough to open a browser, short enough to go stale. */
export const SIGN_IN_CODE_TTL_MS = 120_000

export interface SignInCodes {
  /** A new code and when it expires. */
  readonly issue: (now: number) => { readonly code: string; readonly expiresAt: number }
  /** True once for a code issued and not expired; the code is spent whatever the answer. */
  readonly redeem: (code: string, now: number) => boolean
}

export const makeSignInCodes = (ttlMs: number = SIGN_IN_CODE_TTL_MS): SignInCodes => {
  const codes = new Map<string, number>()
  const prune = (now: number) => {
    for (const [code, expiresAt] of codes) if (expiresAt <= now) codes.delete(code)
  }
  return {
    issue: (now) => {
      prune(now)
      const code = randomBytes(32).toString("base64url")
      const expiresAt = now + ttlMs
      codes.set(code, expiresAt)
      return { code, expiresAt }
    },
    redeem: (given, now) => {
      prune(now)
      // Compared in constant time against each live code (a handful at most).
      for (const [code, expiresAt] of codes) {
        if (tokensEqual(given, code)) {
          codes.delete(code)
          return expiresAt > now
        }
      }
      return false
    },
  }
}
