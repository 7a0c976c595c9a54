export type { CallOptions } from "./caller.ts"
export {
  type CallError,
  InvalidProtocolName,
  InvalidRouteBlob,
  PeerBusy,
  PeerUnreachable,
  ProtocolInUse,
  RemoteError,
  RequestTooLarge,
  ResponseTooLarge,
  RouteUnavailable,
  TunnelProtocolError,
  Unauthorized,
  UnknownProtocol,
  UnverifiedPeer,
} from "./errors.ts"
export {
  type Down,
  decodeFrame,
  decodeReply,
  decodeRequest,
  encodeFrame,
  FRAME_VERSION,
  type Frame,
  FrameDecodeError,
  type FrameDecodeReason,
  isProtocolName,
  MAX_FRAME_BYTES,
  type RefusalReason,
  type Reply,
  type Request,
} from "./frame.ts"
export type { IncomingCall } from "./handler-side.ts"
export {
  MemoryNetwork,
  type MemoryNetworkOptions,
  type MemoryNetworkShape,
  type MemoryNetworkStats,
} from "./memory-network.ts"
export { DEFAULT_WINDOW, type TunnelsOptions } from "./options.ts"
export { releasePayload } from "./payload-release.ts"
export type { OwnRoute, RouteId } from "./transport.ts"
export {
  type Handler,
  makeTunnels,
  makeTunnelsMemory,
  type Peer,
  requestHandler,
  type ServeOptions,
  Tunnels,
  type TunnelsShape,
} from "./tunnels.ts"
