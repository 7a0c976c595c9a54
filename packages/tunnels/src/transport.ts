// What the tunnel engine needs from a network: Veilid (transport-veilid.ts) or the
// in-process memory network (memory-network.ts). Both carry the same frames, so the
// engine — windows, retries, auth, sessions — is one piece of code for both layers.
import { Data, type Effect, type Scope } from "effect"
import type { InvalidRouteBlob } from "./errors.ts"

export type RouteId = string

/** A private route of ours: `blob` is what peers import. */
export interface OwnRoute {
  readonly routeId: RouteId
  readonly blob: Uint8Array
}

export type TransportErrorKind =
  /** No answer in time (lost request or reply, dead route, overloaded hops). */
  | "Timeout"
  /** The target route is known to be gone: retrying cannot help. */
  | "Unreachable"
  /** Transient: not enough peers or routes yet. */
  | "TryAgain"
  /** The transport refused the message itself (too large, bad argument): a bug, not retried. */
  | "Rejected"
  | "Other"

export class TransportError extends Data.TaggedError("TransportError")<{
  readonly kind: TransportErrorKind
  readonly message: string
}> {}

export interface RouteChange {
  /** Our own routes that died. */
  readonly deadRoutes: ReadonlyArray<RouteId>
  /** Imported routes that died. */
  readonly deadRemoteRoutes: ReadonlyArray<RouteId>
}

export interface Inbound {
  /**
   * An app_call arrived on `routeId` (one of this node's routes). Returns the reply, or
   * `undefined` when the route is not this engine's (another engine on the same node
   * answers it).
   */
  readonly onCall: (
    routeId: RouteId | undefined,
    message: Uint8Array,
  ) => Effect.Effect<Uint8Array | undefined>
  /** An app_message arrived (one-way). */
  readonly onMessage: (routeId: RouteId | undefined, message: Uint8Array) => Effect.Effect<void>
  readonly onRouteChange: (change: RouteChange) => Effect.Effect<void>
}

export interface Transport {
  readonly allocateRoute: Effect.Effect<OwnRoute, TransportError>
  readonly releaseRoute: (routeId: RouteId) => Effect.Effect<void>
  readonly importRoute: (blob: Uint8Array) => Effect.Effect<RouteId, InvalidRouteBlob>
  /** Request/response; each at most 32,768 bytes. */
  readonly call: (target: RouteId, message: Uint8Array) => Effect.Effect<Uint8Array, TransportError>
  /** One-way message; at most 32,768 bytes. */
  readonly send: (target: RouteId, message: Uint8Array) => Effect.Effect<void, TransportError>
  /** Delivers inbound calls, messages and route changes until the scope closes. */
  readonly listen: (inbound: Inbound) => Effect.Effect<void, never, Scope.Scope>
}
