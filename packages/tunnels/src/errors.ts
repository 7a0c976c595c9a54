import { Data } from "effect"

/**
 * The peer's route did not answer (after retries), or was reported dead by Veilid. Calls to
 * the same route fail fast with this error until a new blob of the peer is imported (or
 * `deadPeerTtl` has passed and a call probes it again).
 */
export class PeerUnreachable extends Data.TaggedError("PeerUnreachable")<{
  readonly routeId: string
  readonly message: string
}> {}

/** The handler refused our proof: we do not hold a key it accepts for this protocol. */
export class Unauthorized extends Data.TaggedError("Unauthorized")<{
  readonly protocol: string
  readonly message: string
}> {}

/**
 * The route answered, but could not prove that it knows our key: it is not a member's
 * handler (a stranger's route published as a member's).
 */
export class UnverifiedPeer extends Data.TaggedError("UnverifiedPeer")<{
  readonly routeId: string
  readonly message: string
}> {}

/** The peer knows our key but serves no handler for this protocol. */
export class UnknownProtocol extends Data.TaggedError("UnknownProtocol")<{
  readonly protocol: string
  readonly message: string
}> {}

/**
 * The peer's handler failed (a typed error or a defect). `tag` is the error's `_tag`
 * (`"Defect"` for a defect); the peer keeps serving.
 */
export class RemoteError extends Data.TaggedError("RemoteError")<{
  readonly protocol: string
  readonly tag: string
  readonly message: string
}> {}

/** The peer has too many open sessions right now; try again later. */
export class PeerBusy extends Data.TaggedError("PeerBusy")<{
  readonly routeId: string
  readonly message: string
}> {}

/**
 * The peer broke the tunnel protocol: a reply that does not decode, an unexpected reply,
 * another frame version, or a session the peer no longer knows (it restarted).
 */
export class TunnelProtocolError extends Data.TaggedError("TunnelProtocolError")<{
  readonly message: string
}> {}

/** A protocol name must be 1 to 64 printable ASCII characters (no space). */
export class InvalidProtocolName extends Data.TaggedError("InvalidProtocolName")<{
  readonly protocol: string
  readonly message: string
}> {}

/** `request` got more reply bytes than its `maxResponseBytes`. */
export class ResponseTooLarge extends Data.TaggedError("ResponseTooLarge")<{
  readonly protocol: string
  readonly limit: number
  readonly message: string
}> {}

/** A handler built with `requestHandler` got more request bytes than it accepts. */
export class RequestTooLarge extends Data.TaggedError("RequestTooLarge")<{
  readonly limit: number
  readonly message: string
}> {}

/** A route blob that Veilid (or the memory network) cannot import. */
export class InvalidRouteBlob extends Data.TaggedError("InvalidRouteBlob")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** `serve` was called twice for one protocol on one node. */
export class ProtocolInUse extends Data.TaggedError("ProtocolInUse")<{
  readonly protocol: string
  readonly message: string
}> {}

/** Our own private route could not be allocated (not enough peers yet, node offline). */
export class RouteUnavailable extends Data.TaggedError("RouteUnavailable")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** Everything a call (`request`, `open`) can fail with. */
export type CallError =
  | PeerUnreachable
  | Unauthorized
  | UnverifiedPeer
  | UnknownProtocol
  | RemoteError
  | PeerBusy
  | TunnelProtocolError
  | InvalidProtocolName
