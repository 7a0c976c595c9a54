// Caller and handler authentication (threat model in README.md "Authentication").
//
// The caller proves it holds a key the handler accepts: the Open frame carries a MAC
// (HMAC-SHA-512-256, libsodium crypto_auth) over the whole frame, bound to the route the
// frame is addressed to. The handler proves it holds the same key with a MAC over the
// session id and nonce in its Opened reply. A fresh nonce, a timestamp window and a cache
// of the nonces seen in that window stop a captured opening from being replayed.
import { concatBytes, type Mac, mac, type SecretKey, verifyMac } from "@save-dweb/crypto"
import { Effect } from "effect"
import { MAC_BYTES } from "./frame.ts"

const utf8 = new TextEncoder()
const OPEN_LABEL = utf8.encode("save-dweb/tunnel/v1 open\0")
const OPENED_LABEL = utf8.encode("save-dweb/tunnel/v1 opened\0")

const lengthPrefixed = (s: string): Uint8Array => {
  const bytes = utf8.encode(s)
  const out = new Uint8Array(2 + bytes.length)
  new DataView(out.buffer).setUint16(0, bytes.length)
  out.set(bytes, 2)
  return out
}

/** What the Open MAC covers: label, target route id, and the frame without its MAC field. */
export const openMacInput = (routeId: string, frame: Uint8Array, macOffset: number): Uint8Array =>
  concatBytes(
    OPEN_LABEL,
    lengthPrefixed(routeId),
    frame.subarray(0, macOffset),
    frame.subarray(macOffset + MAC_BYTES),
  )

/** The MAC to put into an Open frame encoded with a zero MAC field. */
export const signOpen = (
  key: SecretKey,
  routeId: string,
  frame: Uint8Array,
  macOffset: number,
): Uint8Array => mac(key, openMacInput(routeId, frame, macOffset))

/** Index of the first key that verifies the Open frame, or -1. */
export const verifyOpen = (
  keys: ReadonlyArray<SecretKey>,
  routeId: string,
  frame: Uint8Array,
  macOffset: number,
): Effect.Effect<number> =>
  Effect.suspend(() => {
    const input = openMacInput(routeId, frame, macOffset)
    const tag = frame.slice(macOffset, macOffset + MAC_BYTES) as Mac
    return Effect.gen(function* () {
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as SecretKey
        const ok = yield* verifyMac(key, input, tag).pipe(
          Effect.as(true),
          Effect.orElseSucceed(() => false),
        )
        if (ok) return i
      }
      return -1
    })
  })

const proofInput = (routeId: string, sessionId: Uint8Array, nonce: Uint8Array) =>
  concatBytes(OPENED_LABEL, lengthPrefixed(routeId), sessionId, nonce)

/** The handler's answer to the caller's opening: proves it holds the same key. */
export const signOpened = (
  key: SecretKey,
  routeId: string,
  sessionId: Uint8Array,
  nonce: Uint8Array,
): Uint8Array => mac(key, proofInput(routeId, sessionId, nonce))

export const verifyOpened = (
  key: SecretKey,
  routeId: string,
  sessionId: Uint8Array,
  nonce: Uint8Array,
  proof: Uint8Array,
): Effect.Effect<boolean> =>
  verifyMac(key, proofInput(routeId, sessionId, nonce), proof as Mac).pipe(
    Effect.as(true),
    Effect.orElseSucceed(() => false),
  )

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")

/**
 * Nonces of accepted openings, kept until their timestamp leaves the replay window (after
 * that the timestamp check refuses them anyway). Bounded: when full of live entries, new
 * openings are refused as busy rather than forgetting a nonce that could then be replayed.
 */
export class NonceCache {
  private readonly seen = new Map<string, number>()
  private readonly windowMillis: number
  private readonly capacity: number
  constructor(windowMillis: number, capacity: number) {
    this.windowMillis = windowMillis
    this.capacity = capacity
  }

  get size(): number {
    return this.seen.size
  }

  /** "Fresh": may be accepted (then `record` it). "Stale": outside the window. */
  check(
    nonce: Uint8Array,
    timestamp: number,
    now: number,
  ): "Fresh" | "Stale" | "Replayed" | "Full" {
    if (Math.abs(now - timestamp) > this.windowMillis) return "Stale"
    if (this.seen.has(hex(nonce))) return "Replayed"
    if (this.seen.size >= this.capacity) {
      this.purge(now)
      if (this.seen.size >= this.capacity) return "Full"
    }
    return "Fresh"
  }

  /** Remembers an accepted opening's nonce until its timestamp leaves the window. */
  record(nonce: Uint8Array, timestamp: number): void {
    this.seen.set(hex(nonce), timestamp + this.windowMillis)
  }

  purge(now: number): void {
    for (const [key, expires] of this.seen) if (expires < now) this.seen.delete(key)
  }
}
