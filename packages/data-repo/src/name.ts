import { Effect } from "effect"
import { InvalidFileName, type InvalidFileNameReason } from "./errors.ts"

/** Longest file name, in UTF-8 bytes (what common file systems allow). */
export const MAX_FILE_NAME_BYTES = 255

const encoder = new TextEncoder()
// A lone surrogate has no UTF-8 form: it would be stored as U+FFFD and not round-trip.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * C0, DEL, C1 and the line/paragraph separators: invisible in listings, they
 * break a listing's lines, and some terminals act on them.
 */
const hasControl = (name: string): boolean => {
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i)
    if (unit < 0x20 || (unit >= 0x7f && unit <= 0x9f) || unit === 0x2028 || unit === 0x2029)
      return true
  }
  return false
}

/**
 * Bidi embeddings, overrides and isolates (the same set group names refuse): with
 * them `\u202Egpj.exe` shows as `exe.jpg`, the extension-spoofing trick.
 */
const bidiOverride = /[\u202A-\u202E\u2066-\u2069]/

/** Why `name` is refused, or undefined if it is a valid file name. */
export const fileNameProblem = (name: string): InvalidFileNameReason | undefined => {
  if (name.length === 0) return "Empty"
  if (loneSurrogate.test(name)) return "LoneSurrogate"
  if (name.normalize("NFC") !== name) return "NotNormalized"
  if (encoder.encode(name).length > MAX_FILE_NAME_BYTES) return "TooLong"
  if (hasControl(name)) return "ControlCharacter"
  if (bidiOverride.test(name)) return "BidiOverride"
  if (name.includes("/") || name.includes("\\")) return "PathSeparator"
  if (name === "." || name === "..") return "DotSegment"
  return undefined
}

/** `name` when it is a valid file name (one path segment, NFC, no controls or bidi overrides, ≤ 255 bytes). */
export const validateFileName = (name: string): Effect.Effect<string, InvalidFileName> => {
  const reason = fileNameProblem(name)
  return reason === undefined
    ? Effect.succeed(name)
    : Effect.fail(new InvalidFileName({ name, reason }))
}
