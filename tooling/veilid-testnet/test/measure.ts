// Round trips over plain UDP between two local addresses, for the emulated-network tests.
import * as dgram from "node:dgram"

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

/** Round trips of a UDP echo from `from` to `to`, in ms, one at a time. */
export const udpRoundTrips = async (
  from: string,
  to: string,
  count: number,
): Promise<Array<number>> => {
  const type = from.includes(":") ? "udp6" : "udp4"
  const echo = dgram.createSocket(type)
  const client = dgram.createSocket(type)
  try {
    echo.on("message", (message, peer) => echo.send(message, peer.port, peer.address))
    await new Promise<void>((resolve) => echo.bind(0, to, resolve))
    await new Promise<void>((resolve) => client.bind(0, from, resolve))
    const port = echo.address().port
    const rtts: Array<number> = []
    for (let i = 0; i < count; i++) {
      const started = performance.now()
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no echo from ${to} in 2 s`)), 2_000)
        client.once("message", () => {
          clearTimeout(timer)
          resolve()
        })
        client.send(Buffer.from([i & 0xff]), port, to)
      })
      rtts.push(performance.now() - started)
    }
    return rtts
  } finally {
    client.close()
    echo.close()
  }
}
