// CBOR well-formedness (RFC 8949 §5.3.1 and Appendix C), checked before cbor-x sees a
// value. cbor-x trusts the input: past the end it reads zeros, so a lone `0x9f` (an
// indefinite array never closed) fills an array up to its 112,810,000-element limit,
// about 7 s of CPU per read, and a slot holder could stall every reader of a record.
// The walk is iterative and allocates nothing that depends on the input, and every
// length is checked against the bytes left before anything trusts it.
import { Data, Result } from "effect"

/** Deepest nesting of arrays, maps, tags and indefinite-length strings accepted. */
export const MAX_CBOR_DEPTH = 64

/**
 * Largest bignum (tags 2 and 3) content accepted: cbor-x builds a bignum byte by byte
 * with shifts, quadratic in its length (~75 ms for 32 KB). 1 KiB is 8192 bits.
 */
export const MAX_BIGNUM_BYTES = 1024

/** Bytes that are not exactly one well-formed CBOR item, or that this package refuses. */
export class CborMalformed extends Data.TaggedError("CborMalformed")<{
  /** Offset of the head (or of the end of input) where the walk stopped. */
  readonly offset: number
  readonly reason: string
}> {
  override get message() {
    return `${this.reason} (byte ${this.offset})`
  }
}

// Tags that are well-formed but that cbor-x interprets with state across items; the
// encoder (plain mode) never writes them. 28/29 (value sharing) let a few bytes per level
// build a graph of 2^levels references (or a cycle); 6 and 51 are packed CBOR; 105 and
// 0xdff9..0xdfff are cbor-x's records and bundled strings, which define decoders from
// the input.
const refusedTag = (tag: number): boolean =>
  tag === 6 ||
  tag === 28 ||
  tag === 29 ||
  tag === 51 ||
  tag === 105 ||
  (tag >= 0xdff9 && tag <= 0xdfff)

// cbor-x reads tag 259 by switching the shared decoder to Map mode until the next map
// is read: on anything but a map the switch outlives this value and the next value read
// gets Maps instead of objects.
const TAG_EXPLICIT_MAP = 259

// UTF-8 as in Unicode table 3-7 (no overlong forms, nothing past U+10FFFF), except that
// surrogate code points (ED A0..BF ..) pass: cbor-x writes a JS string's lone surrogate
// that way, and reads it back. cbor-x's decoder takes a lead byte's continuation bytes
// even past the string's end, so a broken sequence in a short string shifts everything
// after it: the next item's bytes are read as heads, and a `0x9f` among them spins again.
const validUtf8 = (bytes: Uint8Array, from: number, to: number): boolean => {
  let i = from
  while (i < to) {
    const lead = bytes[i] as number
    if (lead < 0x80) {
      i++
      continue
    }
    let size: number
    let low = 0x80
    let high = 0xbf
    if (lead >= 0xc2 && lead <= 0xdf) size = 2
    else if (lead >= 0xe0 && lead <= 0xef) {
      size = 3
      if (lead === 0xe0) low = 0xa0
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      size = 4
      if (lead === 0xf0) low = 0x90
      else if (lead === 0xf4) high = 0x8f
    } else return false
    if (to - i < size) return false
    const second = bytes[i + 1] as number
    if (second < low || second > high) return false
    for (let k = 2; k < size; k++) {
      const next = bytes[i + k] as number
      if (next < 0x80 || next > 0xbf) return false
    }
    i += size
  }
  return true
}

// What an open container is.
const Frame = { Array: 0, Map: 1, Tag: 2, Bignum: 3, ByteChunks: 4, TextChunks: 5 } as const
type Frame = (typeof Frame)[keyof typeof Frame]

const INDEFINITE = -1

/**
 * Checks that `bytes` hold exactly one well-formed CBOR item whose text strings are
 * UTF-8, nested at most `MAX_CBOR_DEPTH` deep, without the tags cbor-x would read with
 * shared state. Linear in the input and never recursive.
 */
export const checkCbor = (bytes: Uint8Array): Result.Result<void, CborMalformed> => {
  const end = bytes.length
  const fail = (offset: number, reason: string) =>
    Result.fail(new CborMalformed({ offset, reason }))
  // One entry per open container: what it is, and how many items it still needs
  // (INDEFINITE until its break) or, for an indefinite one, how many it has had.
  const frames = new Uint8Array(MAX_CBOR_DEPTH)
  const needs = new Float64Array(MAX_CBOR_DEPTH)
  const seen = new Float64Array(MAX_CBOR_DEPTH)
  let depth = 0
  let pos = 0
  // Every head takes at least one byte, so a walk never takes more steps than there are
  // bytes; the budget makes that bound explicit.
  for (let steps = 0; steps <= end; steps++) {
    if (pos >= end) {
      return fail(pos, depth === 0 ? "no data item" : "input ends inside an item")
    }
    const start = pos
    const initial = bytes[pos++] as number
    const major = initial >> 5
    const info = initial & 0x1f
    const parent = depth > 0 ? (frames[depth - 1] as Frame) : undefined

    let argument = info
    let indefinite = false
    if (initial === 0xff) {
      if (depth === 0 || needs[depth - 1] !== INDEFINITE) {
        return fail(start, "break outside an indefinite-length item")
      }
      if (parent === Frame.Map && (seen[depth - 1] as number) % 2 === 1) {
        return fail(start, "indefinite-length map ends after a key without its value")
      }
      depth--
    } else {
      if (info >= 24 && info <= 27) {
        const size = 1 << (info - 24)
        if (end - pos < size) return fail(start, "input ends inside an item's head")
        argument = 0
        for (let i = 0; i < size; i++) {
          // Past 2^53 the value is inexact, but then it is far beyond any length in
          // the input, which is all that is compared.
          argument = argument * 256 + (bytes[pos + i] as number)
        }
        pos += size
      } else if (info >= 28 && info <= 30) {
        return fail(start, `reserved additional information ${info}`)
      } else if (info === 31) {
        if (major !== 2 && major !== 3 && major !== 4 && major !== 5) {
          return fail(start, `major type ${major} has no indefinite length`)
        }
        indefinite = true
      }

      if (parent === Frame.ByteChunks || parent === Frame.TextChunks) {
        const chunkMajor = parent === Frame.ByteChunks ? 2 : 3
        if (major !== chunkMajor || indefinite) {
          return fail(
            start,
            "an indefinite-length string holds only definite-length strings of its own type",
          )
        }
      }

      const left = end - pos
      let opens: Frame | undefined
      let count = 0
      switch (major) {
        case 0:
        case 1:
          break
        case 2:
        case 3:
          if (indefinite) {
            opens = major === 2 ? Frame.ByteChunks : Frame.TextChunks
            count = INDEFINITE
          } else {
            if (argument > left) return fail(start, "string length beyond the input")
            if (parent === Frame.Bignum && argument > MAX_BIGNUM_BYTES) {
              return fail(start, `bignum longer than ${MAX_BIGNUM_BYTES} bytes`)
            }
            if (major === 3 && !validUtf8(bytes, pos, pos + argument)) {
              return fail(start, "text string is not UTF-8")
            }
            pos += argument
          }
          break
        case 4:
          // Each element takes at least a byte.
          if (!indefinite && argument > left) return fail(start, "array length beyond the input")
          if (indefinite || argument > 0) {
            opens = Frame.Array
            count = indefinite ? INDEFINITE : argument
          }
          break
        case 5:
          if (!indefinite && argument * 2 > left) return fail(start, "map length beyond the input")
          if (indefinite || argument > 0) {
            opens = Frame.Map
            count = indefinite ? INDEFINITE : argument * 2
          }
          break
        case 6:
          if (refusedTag(argument)) return fail(start, `tag ${argument} is not accepted`)
          if (argument === TAG_EXPLICIT_MAP && (pos >= end || (bytes[pos] as number) >> 5 !== 5)) {
            return fail(start, "tag 259 must enclose a map")
          }
          opens = argument === 2 || argument === 3 ? Frame.Bignum : Frame.Tag
          count = 1
          break
        default:
          // Major type 7: a one-byte simple value below 32 is not well-formed (§3.3).
          if (info === 24 && argument < 32) {
            return fail(start, `simple value ${argument} in two bytes`)
          }
      }

      if (opens !== undefined) {
        if (depth === MAX_CBOR_DEPTH) {
          return fail(start, `nested deeper than ${MAX_CBOR_DEPTH}`)
        }
        frames[depth] = opens
        needs[depth] = count
        seen[depth] = 0
        depth++
        continue
      }
    }

    // An item is complete: count it in its container, closing every container it fills.
    for (;;) {
      if (depth === 0) {
        return pos === end ? Result.void : fail(pos, "bytes after the top-level item")
      }
      const top = depth - 1
      if (needs[top] === INDEFINITE) {
        seen[top] = (seen[top] as number) + 1
        break
      }
      needs[top] = (needs[top] as number) - 1
      if ((needs[top] as number) > 0) break
      depth--
    }
  }
  return fail(pos, "more items than the input has bytes")
}
