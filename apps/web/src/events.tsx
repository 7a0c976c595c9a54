// The daemon's server-sent events as they happen (sync progress, members, files).
import type { SaveDwebClient, ServerEvent } from "@save-dweb/client/promise"
import { useEffect, useState } from "preact/hooks"
import { errorText, formatBytes } from "./format.ts"

const short = (key: string) => key.slice(5, 13)

const describe = (e: ServerEvent): string => {
  switch (e._tag) {
    case "SyncStarted":
      return `sync started in ${short(e.group)}`
    case "SyncProgress":
      return `syncing ${formatBytes(e.bytesDone)} of ${formatBytes(e.bytesTotal)} (${e.blobsDone}/${e.blobsTotal} files)`
    case "SyncDone":
      return e.unchanged ? "sync: nothing new" : `sync done in ${short(e.group)}`
    case "SyncFailed":
      return `sync failed: ${e.message}`
    case "Purged":
      return `freed ${e.freed} unused blobs`
    case "FileFetchProgress":
      return `fetching ${e.name}: ${formatBytes(e.bytesDone)} of ${formatBytes(e.bytesTotal)}`
    case "CopiesReached":
      return `${e.name} has ${e.copies} copies off this device (target ${e.target})`
    case "MembersChanged":
      return e.changes
        .map((c) => `${c.name ?? `member ${c.slot}`} ${c.kind.toLowerCase()}`)
        .join(", ")
    case "FilesChanged":
      return e.mine ? "your files changed" : "a member's files changed"
    case "GroupOpened":
      return `group ${short(e.group)} opened`
    case "GroupMoved":
      return `group moved to new keys (a member was removed)`
    case "RemovedFromGroup":
      return `you were removed from group ${short(e.group)}`
    case "GroupClosed":
      return `group ${short(e.group)} closed`
    case "Heartbeat":
      return "heartbeat"
  }
}

interface Line {
  readonly id: number
  readonly at: string
  readonly tag: string
  readonly text: string
}

export const EventsPanel = ({
  client,
  onEvent,
}: {
  client: SaveDwebClient
  onEvent: (event: ServerEvent) => void
}) => {
  const [lines, setLines] = useState<ReadonlyArray<Line>>([])
  const [state, setState] = useState("connecting…")
  useEffect(() => {
    let stopped = false
    let id = 0
    const iterator = client.events()[Symbol.asyncIterator]()
    void (async () => {
      try {
        setState("live")
        for (;;) {
          const next = await iterator.next()
          if (next.done || stopped) break
          const event = next.value
          onEvent(event)
          const line = {
            id: id++,
            at: new Date().toLocaleTimeString(),
            tag: event._tag,
            text: describe(event),
          }
          // SyncProgress replaces the line before it, so a transfer is one moving line.
          setLines((all) =>
            [
              line,
              ...(all[0]?.tag === "SyncProgress" && event._tag === "SyncProgress"
                ? all.slice(1)
                : all),
            ].slice(0, 50),
          )
        }
        if (!stopped) setState("ended")
      } catch (e) {
        if (!stopped) setState(`disconnected: ${errorText(e)}`)
      }
    })()
    return () => {
      stopped = true
      void iterator.return?.()
    }
  }, [client])
  return (
    <aside aria-labelledby="events-h" class="events">
      <h2 id="events-h">Activity</h2>
      <p class="muted">Events: {state}</p>
      <ol aria-live="polite">
        {lines.map((l) => (
          <li key={l.id}>
            <time>{l.at}</time> {l.text}
          </li>
        ))}
      </ol>
    </aside>
  )
}
