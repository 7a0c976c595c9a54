// The page: sign-in, then the groups of this daemon, one group's files, members, invites
// and backups, and the daemon's live events beside them.
import type { SaveDwebClient, ServerEvent } from "@save-dweb/client/promise"
import { useEffect, useState } from "preact/hooks"
import { EventsPanel } from "./events.tsx"
import { errorText } from "./format.ts"
import { GroupView } from "./group.tsx"
import { GroupsView } from "./groups.tsx"
import { resume, signIn, signOut, takeCodeFromUrl } from "./sign-in.ts"

type Phase =
  | { readonly _tag: "Checking" }
  | { readonly _tag: "SignedOut"; readonly error?: string }
  | { readonly _tag: "Ready"; readonly client: SaveDwebClient }

export const App = () => {
  const [phase, setPhase] = useState<Phase>({ _tag: "Checking" })
  const [group, setGroup] = useState<string | undefined>(undefined)
  const [lastEvent, setLastEvent] = useState<ServerEvent | undefined>(undefined)

  useEffect(() => {
    const code = takeCodeFromUrl()
    const start = code === undefined ? resume() : signIn(code)
    start.then(
      (client) =>
        setPhase(client === undefined ? { _tag: "SignedOut" } : { _tag: "Ready", client }),
      (error: unknown) => setPhase({ _tag: "SignedOut", error: errorText(error) }),
    )
  }, [])

  if (phase._tag === "Checking") {
    return (
      <main class="center">
        <p role="status">Signing in…</p>
      </main>
    )
  }
  if (phase._tag === "SignedOut") {
    return (
      <main class="center">
        <h1>save-dweb</h1>
        {phase.error !== undefined && (
          <p class="error" role="alert">
            {phase.error}
          </p>
        )}
        <p>
          To open this page, run <code>save-dweb ui</code> on this computer: it opens a sign-in link
          that works once, for two minutes.
        </p>
      </main>
    )
  }
  const client = phase.client
  return (
    <div class="layout">
      <header class="top">
        <h1>
          <button type="button" class="link" onClick={() => setGroup(undefined)}>
            save-dweb
          </button>
        </h1>
        <button
          type="button"
          onClick={() =>
            // /docs opens with a one-time code too; it reads the token from this tab.
            client.signIn.code().then(
              ({ code }) => window.location.assign(`/docs?code=${encodeURIComponent(code)}`),
              () => {},
            )
          }
        >
          API reference
        </button>
        <button
          type="button"
          onClick={() => {
            signOut()
            void client.close()
            setPhase({ _tag: "SignedOut" })
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        {group === undefined ? (
          <GroupsView client={client} onOpen={setGroup} />
        ) : (
          <GroupView
            client={client}
            groupKey={group}
            lastEvent={lastEvent}
            onMoved={setGroup}
            onLeft={() => setGroup(undefined)}
          />
        )}
      </main>
      <EventsPanel client={client} onEvent={setLastEvent} />
    </div>
  )
}
