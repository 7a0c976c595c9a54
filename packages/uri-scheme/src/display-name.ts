// A display-name hint (group or backup server name) travels in the link so the
// receiving app can show it before it fetches anything. It is untrusted text:
// controls, line/paragraph separators and bidi overrides are refused so a name
// cannot rearrange or break the UI it is shown in.
import { Schema } from "effect"

export const MAX_NAME_BYTES = 128

const utf8 = new TextEncoder()

// With the `u` flag, \p{Cs} only matches unpaired surrogates, which UTF-8
// cannot carry (they would not survive a round trip).
const loneSurrogate = /\p{Cs}/u
const forbidden = /[\p{Cc}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/u

/** Why `name` is not an acceptable display name, or `undefined` when it is. */
export const checkDisplayName = (name: string): string | undefined => {
  if (name.length === 0) return "is empty (leave it out instead)"
  if (loneSurrogate.test(name)) return "contains an unpaired UTF-16 surrogate"
  if (forbidden.test(name)) {
    return "contains a control, line-break or bidi-override character"
  }
  const bytes = utf8.encode(name).length
  return bytes > MAX_NAME_BYTES
    ? `is ${bytes} bytes of UTF-8, at most ${MAX_NAME_BYTES} allowed`
    : undefined
}

export const DisplayName = Schema.String.check(
  Schema.makeFilter(checkDisplayName, {
    expected: `a display name of 1 to ${MAX_NAME_BYTES} UTF-8 bytes without control characters`,
  }),
)
