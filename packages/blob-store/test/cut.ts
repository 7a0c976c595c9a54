// Test helper: a byte string cut into chunks, as a stream may deliver it.

/** Cuts `bytes` at the given points (taken modulo its length + 1, sorted, deduplicated). */
export const cut = (bytes: Uint8Array, points: ReadonlyArray<number>): Array<Uint8Array> => {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let from = 0
  for (const p of [...at, bytes.length]) {
    out.push(bytes.subarray(from, p))
    from = p
  }
  return out
}
