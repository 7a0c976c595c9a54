// Freeing a reply's bytes as soon as its payload is on disk. A reply crosses the Veilid
// binding as an external Buffer whose native bytes go back only when V8 collects it; a
// fetch hands out a payload per 32 KiB frame, faster than V8 collects, and the replies
// waiting for collection were most of a private fetch's growth (apps/daemon README, Memory).

/** Replies whose payloads this package handed out, each the whole of its ArrayBuffer. */
const handedOut = new WeakSet<ArrayBufferLike>()

/** Marks `reply` (a frame as it came from the transport) as releasable through its payload. */
export const markReleasable = (reply: Uint8Array): void => {
  if (reply.byteOffset === 0 && reply.byteLength === reply.buffer.byteLength) {
    handedOut.add(reply.buffer)
  }
}

/**
 * Frees at once the reply that `chunk`, a view of a tunnel's payload, came in, when
 * `chunk` reaches that reply's end: every view of it is empty afterwards. Call it when
 * done with the chunk and with every earlier piece of the same payload (pieces are handed
 * on in order, so the one that ends the reply comes last). Anything else it leaves alone.
 */
export const releasePayload = (chunk: Uint8Array): void => {
  const buffer = chunk.buffer
  if (!handedOut.has(buffer) || chunk.byteOffset + chunk.byteLength !== buffer.byteLength) return
  handedOut.delete(buffer)
  try {
    ;(buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0)
  } catch {
    // A buffer its owner made non-detachable: V8 frees it when it collects it, as before.
  }
}
