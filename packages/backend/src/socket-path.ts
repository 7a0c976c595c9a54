// A unix socket path for a listener (the daemon's API, the Save app's API): a stale socket
// a dead process left is removed; one a live server answers on, or another kind of file,
// is refused.
import { lstat, unlink } from "node:fs/promises"
import { connect } from "node:net"
import { Data, Effect } from "effect"

/** The path is a live server's socket, or not a socket at all. */
export class SocketPathTaken extends Data.TaggedError("SocketPathTaken")<{
  readonly path: string
  readonly message: string
}> {}

/** Refuses a socket path a live server answers on; removes a stale one. */
export const freeSocketPath = (path: string): Effect.Effect<void, SocketPathTaken> =>
  Effect.tryPromise({
    try: async () => {
      const found = await lstat(path).catch(() => undefined)
      if (found === undefined) return
      if (!found.isSocket()) throw new Error(`${path} exists and is not a socket`)
      const live = await new Promise<boolean>((resolve) => {
        const socket = connect(path)
        socket.once("connect", () => {
          socket.destroy()
          resolve(true)
        })
        socket.once("error", () => resolve(false))
      })
      if (live) throw new Error(`a server already listens on ${path}`)
      await unlink(path)
    },
    catch: (e) =>
      new SocketPathTaken({ path, message: e instanceof Error ? e.message : String(e) }),
  })
