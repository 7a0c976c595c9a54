// DNS rebinding: a page on another site whose name the attacker points at 127.0.0.1 would
// reach this server as same-origin to itself. Browsers still send that site's name in
// `Host`, so only this server's own names are answered.

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"])

/**
 * The `Host` values this server answers: its address and, on loopback, its other names;
 * undefined (any) when it listens on every interface, where names are the operator's.
 */
export const allowedHosts = (host: string, port: number): ReadonlySet<string> | undefined => {
  if (host === "0.0.0.0" || host === "::") return undefined
  const urlHost = host.includes(":") ? `[${host}]` : host
  const isLoopback = LOOPBACK.has(urlHost) || host.startsWith("127.")
  const names = isLoopback ? new Set([urlHost, ...LOOPBACK]) : new Set([urlHost])
  // A loopback name without a port is this machine too (raw clients send `localhost`);
  // a browser always names the port of a page that is not on port 80.
  const bare = isLoopback ? [...names] : []
  return new Set(
    [...bare, ...[...names].map((name) => `${name}:${port}`)].map((h) => h.toLowerCase()),
  )
}

/** Whether a request's `Host` header names this server (absent: HTTP/1.0, refused too). */
export const hostAllowed = (allowed: ReadonlySet<string>, header: string | undefined): boolean =>
  header !== undefined && allowed.has(header.toLowerCase())
