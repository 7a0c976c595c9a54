import type { VeilidShape } from "@save-dweb/veilid"

/**
 * The part of the Veilid facade this package uses. The real layer passes the Veilid
 * service itself; the memory layer passes a participant of a `MemoryDhtNetwork`, which
 * answers with Veilid's values, updates and errors. Everything above (codec, sealing,
 * size limits, error mapping, retries, watch fallback) is one code path for both.
 */
export type DhtBackend = Pick<
  VeilidShape,
  | "dhtCreate"
  | "dhtOpen"
  | "dhtClose"
  | "dhtDelete"
  | "dhtGet"
  | "dhtSet"
  | "dhtWatch"
  | "dhtCancelWatch"
  | "dhtInspect"
  | "subscribe"
  | "generateKeyPair"
  | "generateMemberId"
>
