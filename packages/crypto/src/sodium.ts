// libsodium's WebAssembly module has to be instantiated before any call.
// ESM top-level await does it once, when this module is first imported, so
// every function of this package can stay synchronous and pure.
import sodium from "libsodium-wrappers"

await sodium.ready

export { sodium }

/** Bytes of a `crypto_secretstream_xchacha20poly1305_state` (libsodium's statebytes()). */
const SECRETSTREAM_STATE_BYTES = 52

interface SodiumHeap {
  readonly HEAPU8: Uint8Array
  readonly _free: (address: number) => void
}

/**
 * libsodium-wrappers allocates a secretstream state on the WebAssembly heap
 * and never frees it. Zero it (it holds the stream key) and free it when the
 * stream ends, so a long-running process does not leak one state per file.
 */
export const freeSecretstreamState = (state: unknown): void => {
  const heap = (sodium as unknown as { readonly libsodium?: SodiumHeap }).libsodium
  // Typed as `{ name, address }`, but the wrappers hand out the bare address.
  const address =
    typeof state === "number" ? state : (state as { readonly address?: unknown } | null)?.address
  if (heap === undefined || typeof address !== "number") return
  heap.HEAPU8.fill(0, address, address + SECRETSTREAM_STATE_BYTES)
  heap._free(address)
}
