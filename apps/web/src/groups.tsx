// The daemon's groups: open one, create one, join one by pasting its invite link.
import type { GroupSummary, SaveDwebClient } from "@save-dweb/client/promise"
import { useEffect, useState } from "preact/hooks"
import { errorText } from "./format.ts"
import { ErrorLine, useAction } from "./use-action.tsx"

export const GroupsView = ({
  client,
  onOpen,
}: {
  client: SaveDwebClient
  onOpen: (key: string) => void
}) => {
  const [groups, setGroups] = useState<ReadonlyArray<GroupSummary> | undefined>(undefined)
  const [loadError, setLoadError] = useState<string | undefined>(undefined)
  const create = useAction()
  const join = useAction()
  const [name, setName] = useState("")
  const [memberName, setMemberName] = useState("")
  const [link, setLink] = useState("")
  const [joinName, setJoinName] = useState("")

  useEffect(() => {
    client.groups.list().then(setGroups, (e: unknown) => setLoadError(errorText(e)))
  }, [client])

  return (
    <>
      <section aria-labelledby="groups-h">
        <h2 id="groups-h">Your groups</h2>
        <ErrorLine error={loadError} />
        {groups === undefined && loadError === undefined && <p role="status">Loading…</p>}
        {groups?.length === 0 && <p>No groups yet: create one or join one below.</p>}
        <ul class="cards">
          {groups?.map((g) => (
            <li key={g.key}>
              <button type="button" class="card" onClick={() => onOpen(g.key)}>
                <strong>{g.name ?? "(name not known yet)"}</strong>
                <span class="muted">{g.tier}</span>
              </button>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="create-h">
        <h2 id="create-h">Create a group</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault()
            void create
              .run(() =>
                client.groups.create({
                  name,
                  ...(memberName === "" ? {} : { memberName }),
                }),
              )
              .then((g) => g && onOpen(g.key))
          }}
        >
          <label>
            Group name
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} required />
          </label>
          <label>
            Your name in it
            <input value={memberName} onInput={(e) => setMemberName(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={create.busy}>
            {create.busy ? "Creating…" : "Create"}
          </button>
          <ErrorLine error={create.error} />
        </form>
      </section>
      <section aria-labelledby="join-h">
        <h2 id="join-h">Join a group</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault()
            void join
              .run(() =>
                client.groups.join({
                  link: link.trim(),
                  ...(joinName === "" ? {} : { memberName: joinName }),
                }),
              )
              .then((g) => g && onOpen(g.key))
          }}
        >
          <label>
            Invite link
            <textarea
              value={link}
              onInput={(e) => setLink(e.currentTarget.value)}
              rows={3}
              required
            />
          </label>
          <label>
            Your name (for write invites)
            <input value={joinName} onInput={(e) => setJoinName(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={join.busy}>
            {join.busy ? "Joining…" : "Join"}
          </button>
          <ErrorLine error={join.error} />
        </form>
      </section>
    </>
  )
}
