// What a session learns from its own calls: how long a call takes (for resending a frame
// whose reply is late, long before Veilid's 5 s RPC timeout) and how fast replies come back
// (for keeping no more frames in flight than the path delivers per call time: a window
// past the bandwidth-delay product only fills a capped uplink's queue, which drops frames).

/** Without a later frame answered, an early resend never comes sooner than this. */
export const MIN_RESEND_MILLIS = 1_000
/** How often a frame waiting for its reply looks whether a later one shows it lost. */
export const MIN_POLL_MILLIS = 25
/** Copies of one frame in flight at once (the first and its early resends). */
export const MAX_COPIES = 3
/**
 * The paced window allows this much more than the measured rate needs per shortest call, so
 * it can grow while replies keep up, and covers calls that take longer under load than the
 * shortest one. On a capped 150 ms link (blob-store's bench:wan) 1.25 left the busiest
 * uplink ~11 % idle; 2 (BBR's congestion window gain) grew the window to 43 frames and the
 * relays' queues dropped frames.
 */
const PACING_GAIN = 1.5
/** Frames on top of the paced window: room for a reply that arrives in a burst. */
const PACING_HEADROOM = 2
/**
 * How much later than a later frame's call time a reply may come before it counts as lost,
 * in shortest calls, at first; doubled each time an earlier copy answers after a later one
 * was sent (that resend was spurious: Veilid spreads replies over several routes, whose
 * queues differ), up to `MAX_REORDER_ALLOWANCE`.
 */
const REORDER_ALLOWANCE = 0.5
const MAX_REORDER_ALLOWANCE = 4
/**
 * The allowance is never shorter than this: where calls take a few milliseconds (the
 * loopback, the memory network) replies pass each other by a scheduler's time slice.
 */
const MIN_REORDER_MILLIS = 200
/** Without evidence of a loss, a resend waits at least this many smoothed call times. */
const TAIL_FACTOR = 2
/** Delivery rate samples are kept this many shortest call times (a max filter). */
const RATE_FILTER_CALLS = 10

export interface DeliveryMark {
  /** Replies delivered when the frame was sent. */
  readonly delivered: number
  /** When the reply before it was delivered. */
  readonly at: number
}

export interface Pacing {
  /** Shortest call of the session so far (the opening first): the path's delay. */
  readonly shortestCall: () => number | undefined
  /** A call sent at `sentAt` was answered `millis` later (one copy, timed from its send). */
  readonly sample: (millis: number, sentAt: number) => void
  /**
   * A copy sent at `sentAt` counts as lost: a frame sent after it was answered, and the
   * answer is later than that frame's call time plus a reordering allowance (RACK, RFC 8985).
   */
  readonly lost: (sentAt: number) => boolean
  /** An earlier copy answered after a later one was sent: that resend was not needed. */
  readonly spurious: () => void
  /**
   * How long to wait for copy `copies` (1 = the first) before sending the next one when no
   * later frame shows it lost (the last frames of a call, or a path that went quiet).
   */
  readonly resendAfter: (copies: number) => number
  /** Taken when a frame leaves; given back to `delivered` when its reply comes. */
  readonly mark: () => DeliveryMark
  /** A frame's reply came: one more delivered, and a rate sample over its round trip. */
  readonly delivered: (mark: DeliveryMark) => void
  /** Frames per call time the measured delivery rate needs, with room to grow. */
  readonly window: () => number | undefined
}

/**
 * A session's call timing. `now` is a monotonic clock in milliseconds. A copy counts as lost
 * as RACK decides (RFC 8985): a frame sent after it was answered and its own answer is later
 * than that frame's call time plus half the shortest call (at least 200 ms; more after
 * spurious resends). Resending only on such evidence
 * keeps slow calls from being sent twice (a duplicate Chunk costs the uplink as much as the
 * frame). Without evidence, the resend delay is RFC 6298's retransmission timeout (smoothed
 * call time plus four deviations, at least twice the smoothed call and `MIN_RESEND_MILLIS`),
 * doubled for each further copy. The delivery rate is measured as BBR
 * does it: frames delivered between a frame's send and its reply over that time, the highest
 * recent sample kept; the window is that rate times the shortest call time.
 */
export const makePacing = (now: () => number = () => performance.now()): Pacing => {
  let shortest: number | undefined
  let smoothed: number | undefined
  let deviation = 0
  let count = 0
  let reorder = REORDER_ALLOWANCE
  /** The answered call sent last: its send time and call time. */
  let latest: { readonly sentAt: number; readonly millis: number } | undefined
  let lastDelivery = now()
  const rates: Array<{ readonly at: number; readonly perMilli: number }> = []

  const sample = (millis: number, sentAt: number) => {
    if (latest === undefined || sentAt > latest.sentAt) latest = { sentAt, millis }
    shortest = Math.min(shortest ?? millis, millis)
    if (smoothed === undefined) {
      smoothed = millis
      deviation = millis / 2
    } else {
      deviation = 0.75 * deviation + 0.25 * Math.abs(smoothed - millis)
      smoothed = 0.875 * smoothed + 0.125 * millis
    }
  }

  // Replies may pass each other (Veilid spreads calls over routes; hops are busy CPUs).
  const lost = (sentAt: number) =>
    latest !== undefined &&
    latest.sentAt > sentAt &&
    now() - sentAt > latest.millis + Math.max(MIN_REORDER_MILLIS, reorder * (shortest ?? 0))

  const resendAfter = (copies: number) => {
    const base =
      smoothed === undefined
        ? 3 * MIN_RESEND_MILLIS
        : Math.max(smoothed + 4 * deviation, TAIL_FACTOR * smoothed)
    return Math.max(MIN_RESEND_MILLIS, base) * 2 ** Math.max(0, copies - 1)
  }

  const delivered = (mark: DeliveryMark) => {
    const at = now()
    count++
    lastDelivery = at
    const elapsed = at - mark.at
    if (elapsed <= 0) return
    rates.push({ at, perMilli: (count - mark.delivered) / elapsed })
    const keep = RATE_FILTER_CALLS * (shortest ?? elapsed)
    while (rates.length > 1 && at - (rates[0]?.at ?? at) > keep) rates.shift()
  }

  const window = () => {
    if (shortest === undefined || rates.length === 0) return undefined
    let best = 0
    for (const r of rates) best = Math.max(best, r.perMilli)
    return Math.ceil(best * shortest * PACING_GAIN) + PACING_HEADROOM
  }

  return {
    shortestCall: () => shortest,
    sample,
    lost,
    spurious: () => {
      reorder = Math.min(MAX_REORDER_ALLOWANCE, 2 * reorder)
    },
    resendAfter,
    mark: () => ({ delivered: count, at: lastDelivery }),
    delivered,
    window,
  }
}
