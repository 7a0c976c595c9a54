import { Duration } from "effect"
import { MAX_FRAME_BYTES, MAX_WINDOW, MIN_FRAME_BYTES } from "./frame.ts"

export interface TunnelsOptions {
  /**
   * Frames in flight each way per call; 1 = stop-and-wait. Unset (the default): sized from
   * the measured call time, enough frames per call time for `targetRate`, at least 16 and at
   * most `maxWindow` (bench/wan.bench.ts).
   */
  readonly window?: number
  /** Bytes per second an unset window is sized for (default 16 MiB/s, a LAN tunnel's rate). */
  readonly targetRate?: number
  /** Bytes per app_call message, header included (default and maximum 32,768; minimum 256). */
  readonly frameSize?: number
  /**
   * Largest window this node grants its callers and asks for itself (default 128). Bounds
   * memory per session: a session keeps at most this many frames each way.
   */
  readonly maxWindow?: number
  /**
   * A sized window keeps in flight only what the measured delivery rate needs per call time
   * (plus room to grow), never more than the call time alone allows (default true). false:
   * the call time alone, as before (for comparison).
   */
  readonly paceWindow?: boolean
  /** Tries per frame before the peer counts as unreachable (default 4). */
  readonly attempts?: number
  /**
   * Sends a Data or Pull frame again while its first copy is still in flight, as soon as a
   * later frame's answer shows it lost (RACK) or after the session's retransmission timeout
   * (at least 1 s); these early copies do not count as tries (default true). false: a frame
   * is sent again only after its call failed (Veilid's 5 s RPC timeout), as before.
   */
  readonly resendEarly?: boolean
  /** Pause before the first retry; doubles each time (default 100 ms). */
  readonly retryDelay?: Duration.Input
  /** Our own deadline for one app_call (default 20 s; Veilid usually times out first). */
  readonly callTimeout?: Duration.Input
  /**
   * How long a handler holds a call that cannot be answered yet (no output, no room) before
   * answering "wait" (default 500 ms). veilid-core holds one RPC worker per held call and
   * drops the answer after its RPC timeout (5 s), so keep it short.
   */
  readonly holdTime?: Duration.Input
  /** Calls a node holds at once; more are answered "wait" at once (default 8). */
  readonly maxHeldCalls?: number
  /** Sessions a node serves at once; more openings are refused as busy (default 64). */
  readonly maxSessions?: number
  /** Inbound calls a node processes at once (default 512). */
  readonly maxConcurrentCalls?: number
  /** A session with no frame for this long is dropped (default 60 s). */
  readonly sessionIdleTimeout?: Duration.Input
  /** Openings whose timestamp is further than this from our clock are refused (default 5 min). */
  readonly replayWindow?: Duration.Input
  /** Nonces remembered for replay protection (default 65,536). */
  readonly maxNonces?: number
  /** After this long a dead peer's route is tried again (default 60 s). */
  readonly deadPeerTtl?: Duration.Input
  /** How long to keep trying to allocate our own route (default 60 s). */
  readonly routeTimeout?: Duration.Input
  /** Largest reply `request` collects (default 16 MiB). */
  readonly maxResponseBytes?: number
}

export interface ResolvedOptions {
  /** `undefined`: sized from the measured call time. */
  readonly window: number | undefined
  readonly targetRate: number
  readonly frameSize: number
  readonly maxWindow: number
  readonly paceWindow: boolean
  readonly attempts: number
  readonly resendEarly: boolean
  readonly retryDelayMillis: number
  readonly callTimeoutMillis: number
  readonly holdTimeMillis: number
  readonly maxHeldCalls: number
  readonly maxSessions: number
  readonly maxConcurrentCalls: number
  readonly sessionIdleTimeoutMillis: number
  readonly replayWindowMillis: number
  readonly maxNonces: number
  readonly deadPeerTtlMillis: number
  readonly routeTimeoutMillis: number
  readonly maxResponseBytes: number
}

/** The smallest window a sized window starts from; also the fixed default before sizing. */
export const DEFAULT_WINDOW = 16
export const DEFAULT_MAX_WINDOW = 128

const clampInt = (n: number, min: number, max: number) =>
  Math.min(max, Math.max(min, Math.floor(Number.isFinite(n) ? n : min)))

const millis = (input: Duration.Input | undefined, fallback: number) =>
  input === undefined ? fallback : Duration.toMillis(input)

export const clampWindow = (n: number) => clampInt(n, 1, MAX_WINDOW)
export const clampFrameSize = (n: number) => clampInt(n, MIN_FRAME_BYTES, MAX_FRAME_BYTES)

export const resolveOptions = (o: TunnelsOptions = {}): ResolvedOptions => ({
  window: o.window === undefined ? undefined : clampWindow(o.window),
  targetRate: Math.max(1, o.targetRate ?? 16 * 1024 * 1024),
  frameSize: clampFrameSize(o.frameSize ?? MAX_FRAME_BYTES),
  maxWindow: clampWindow(o.maxWindow ?? DEFAULT_MAX_WINDOW),
  paceWindow: o.paceWindow ?? true,
  attempts: clampInt(o.attempts ?? 4, 1, 100),
  resendEarly: o.resendEarly ?? true,
  retryDelayMillis: millis(o.retryDelay, 100),
  callTimeoutMillis: millis(o.callTimeout, 20_000),
  holdTimeMillis: millis(o.holdTime, 500),
  maxHeldCalls: clampInt(o.maxHeldCalls ?? 8, 0, 1_000_000),
  maxSessions: clampInt(o.maxSessions ?? 64, 1, 1_000_000),
  maxConcurrentCalls: clampInt(o.maxConcurrentCalls ?? 512, 1, 1_000_000),
  sessionIdleTimeoutMillis: millis(o.sessionIdleTimeout, 60_000),
  replayWindowMillis: millis(o.replayWindow, 5 * 60_000),
  maxNonces: clampInt(o.maxNonces ?? 65_536, 1, 100_000_000),
  deadPeerTtlMillis: millis(o.deadPeerTtl, 60_000),
  routeTimeoutMillis: millis(o.routeTimeout, 60_000),
  maxResponseBytes: clampInt(o.maxResponseBytes ?? 16 * 1024 * 1024, 0, Number.MAX_SAFE_INTEGER),
})

/**
 * The window for a call whose calls take `callMillis`: a bandwidth-delay estimate, enough
 * frames of `frameSize` per call time for `targetRate`, between 16 (or `cap`, if lower) and
 * `cap`.
 */
export const sizeWindow = (
  callMillis: number,
  frameSize: number,
  targetRate: number,
  cap: number,
): number =>
  Math.min(cap, Math.max(DEFAULT_WINDOW, Math.ceil((targetRate * callMillis) / 1000 / frameSize)))
