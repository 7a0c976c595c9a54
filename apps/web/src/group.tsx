// One group: its files, members, invite links and backup servers, and a sync button.
import type {
  GroupBackup,
  GroupDetail,
  InviteTier,
  Member,
  Reachability,
  SaveDwebClient,
  ServerEvent,
} from "@save-dweb/client/promise"
import { useEffect, useState } from "preact/hooks"
import { FilesTab } from "./files.tsx"
import { errorText, formatBytes, inviteTiers, tierWords } from "./format.ts"
import { QrCode } from "./qr.tsx"
import { ErrorLine, useAction } from "./use-action.tsx"

type Tab = "files" | "members" | "invite" | "backups"
const TABS: ReadonlyArray<readonly [Tab, string]> = [
  ["files", "Files"],
  ["members", "Members"],
  ["invite", "Invite"],
  ["backups", "Backups"],
]

/** The transport setting, when the daemon's API reports one (newer daemons). */

const transportWords: Record<string, string> = {
  private:
    "Private: members reach each other only through Veilid's private routes; no member learns another's IP address. Slower.",
  direct:
    "Direct: file bytes go over direct connections between members (Iroh), which show members each other's IP addresses. Faster.",
}

export const GroupView = ({
  client,
  groupKey,
  lastEvent,
  onMoved,
  onLeft,
}: {
  client: SaveDwebClient
  groupKey: string
  lastEvent: ServerEvent | undefined
  onMoved: (key: string) => void
  onLeft: () => void
}) => {
  const [detail, setDetail] = useState<GroupDetail | undefined>(undefined)
  const [loadError, setLoadError] = useState<string | undefined>(undefined)
  const [tab, setTab] = useState<Tab>("files")
  const sync = useAction()
  const switching = useAction()
  const [syncNote, setSyncNote] = useState<string | undefined>(undefined)
  const [progress, setProgress] = useState<{ done: number; total: number } | undefined>(undefined)

  useEffect(() => {
    setDetail(undefined)
    client.groups.get(groupKey).then(setDetail, (e: unknown) => setLoadError(errorText(e)))
  }, [client, groupKey])

  useEffect(() => {
    if (lastEvent === undefined || !("group" in lastEvent) || lastEvent.group !== groupKey) return
    if (lastEvent._tag === "GroupMoved") onMoved(lastEvent.to)
    // The daemon's sync progress (any pass: this button's or the background one).
    if (lastEvent._tag === "SyncProgress") {
      setProgress({ done: lastEvent.bytesDone, total: lastEvent.bytesTotal })
    }
    if (lastEvent._tag === "SyncDone" || lastEvent._tag === "SyncFailed") setProgress(undefined)
  }, [lastEvent, groupKey, onMoved])

  if (detail === undefined) {
    return loadError === undefined ? (
      <p role="status">Loading the group…</p>
    ) : (
      <ErrorLine error={loadError} />
    )
  }
  const transport = detail.transport
  const other = transport === "private" ? "direct" : "private"
  return (
    <section aria-labelledby="group-h">
      <button type="button" class="link" onClick={onLeft}>
        ← All groups
      </button>
      <h2 id="group-h">{detail.name ?? "(name not shown to this tier)"}</h2>
      <p class="muted">{tierWords[detail.tier]}</p>
      <p>
        <strong>Transport: {transport}.</strong> {transportWords[transport] ?? ""}{" "}
        {detail.tier === "manage" && (
          <button
            type="button"
            disabled={switching.busy}
            onClick={() =>
              void switching
                .run(() => client.groups.setTransport(detail.key, other))
                .then((changed) => changed && setDetail(changed))
            }
          >
            Make it {other}
          </button>
        )}
      </p>
      <ErrorLine error={switching.error} />
      <div class="row">
        <button
          type="button"
          disabled={sync.busy}
          onClick={() =>
            void sync.run(async () => {
              setSyncNote(undefined)
              const report = await client.groups.sync(groupKey)
              setSyncNote(
                `Synced ${report.synced.length} member${report.synced.length === 1 ? "" : "s"}` +
                  (report.failed.length > 0
                    ? `; not reached: ${report.failed.map((f) => f.message).join("; ")}`
                    : "."),
              )
            })
          }
        >
          {sync.busy ? "Syncing…" : "Sync now"}
        </button>
        {progress !== undefined ? (
          <progress
            aria-label={`Syncing: ${formatBytes(progress.done)} of ${formatBytes(progress.total)}`}
            max={Math.max(progress.total, 1)}
            value={progress.done}
          />
        ) : (
          sync.busy && <progress aria-label="Sync in progress" />
        )}
        {syncNote !== undefined && <span role="status">{syncNote}</span>}
      </div>
      <ErrorLine error={sync.error} />
      <div role="tablist" aria-label="Group" class="tabs">
        {TABS.map(([id, label]) => (
          <button
            key={id}
            type="button"
            role="tab"
            id={`tab-${id}`}
            aria-selected={tab === id}
            aria-controls={`panel-${id}`}
            onClick={() => setTab(id)}
          >
            {label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === "files" && <FilesTab client={client} detail={detail} lastEvent={lastEvent} />}
        {tab === "members" && <MembersTab client={client} detail={detail} onMoved={onMoved} />}
        {tab === "invite" && <InviteTab client={client} detail={detail} />}
        {tab === "backups" && <BackupsTab client={client} detail={detail} />}
      </div>
    </section>
  )
}

const unknownReach = (slot: number): Reachability => ({
  slot,
  reachable: false,
  roundTripMs: null,
  reason: "the daemon did not answer",
})

/** A member's reachability in words: asked over its private route, never its address. */
const reachText = (r: Reachability | "checking" | undefined): string =>
  r === undefined || r === "checking"
    ? "checking…"
    : r.reachable
      ? `yes (${r.roundTripMs} ms)`
      : `no: ${r.reason ?? "no answer"}`

const MembersTab = ({
  client,
  detail,
  onMoved,
}: {
  client: SaveDwebClient
  detail: GroupDetail
  onMoved: (key: string) => void
}) => {
  const [members, setMembers] = useState<ReadonlyArray<Member> | undefined>(undefined)
  const [reach, setReach] = useState<ReadonlyMap<number, Reachability | "checking">>(new Map())
  const load = useAction()
  const remove = useAction()
  const refresh = () => void load.run(() => client.groups.members(detail.key).then(setMembers))
  useEffect(refresh, [client, detail.key])
  // Each other member asked for a round trip over its private route, all at once.
  useEffect(() => {
    if (members === undefined) return
    let live = true
    const others = members.filter((m) => !m.mine)
    setReach(new Map(others.map((m) => [m.slot, "checking" as const])))
    for (const m of others) {
      client.groups.reachability(detail.key, m.slot).then(
        (r) => live && setReach((now) => new Map(now).set(m.slot, r)),
        () => live && setReach((now) => new Map(now).set(m.slot, unknownReach(m.slot))),
      )
    }
    return () => {
      live = false
    }
  }, [client, detail.key, members])
  const manager = detail.tier === "manage"
  return (
    <>
      <h3>Members</h3>
      <ErrorLine error={load.error ?? remove.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Joined</th>
            <th scope="col">Reachable</th>
            {manager && <th scope="col">Action</th>}
          </tr>
        </thead>
        <tbody>
          {members?.map((m) => (
            <tr key={m.slot}>
              <td>
                {m.name ?? `member ${m.slot}`}
                {m.mine ? " (you)" : ""}
              </td>
              <td>{m.slot === 0 ? "manager" : "member (write)"}</td>
              <td>{new Date(m.joinedAt).toLocaleDateString()}</td>
              <td>{m.mine ? "this device" : reachText(reach.get(m.slot))}</td>
              {manager && (
                <td>
                  {!m.mine && m.slot !== 0 && (
                    <button
                      type="button"
                      disabled={remove.busy}
                      onClick={() =>
                        void remove
                          .run(() => client.groups.removeMember(detail.key, m.slot))
                          .then((r) => r && onMoved(r.group))
                      }
                    >
                      Remove {m.name ?? `member ${m.slot}`}
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">
        Readers and replicas hold no slot and are not listed. Removing a member moves the group to
        new keys: they can read nothing added after.
      </p>
    </>
  )
}

const InviteTab = ({ client, detail }: { client: SaveDwebClient; detail: GroupDetail }) => {
  const [tier, setTier] = useState<InviteTier>("read")
  const [link, setLink] = useState<string | undefined>(undefined)
  const [copied, setCopied] = useState(false)
  const make = useAction()
  return (
    <>
      <h3>Invite someone</h3>
      <fieldset>
        <legend>What they may do</legend>
        {inviteTiers.map((t) => (
          <label key={t} class="choice">
            <input
              type="radio"
              name="tier"
              value={t}
              checked={tier === t}
              onChange={() => {
                setTier(t)
                setLink(undefined)
              }}
            />
            <span>
              <strong>{t}</strong> — {tierWords[t]}
            </span>
          </label>
        ))}
      </fieldset>
      <button
        type="button"
        disabled={make.busy}
        onClick={() =>
          void make.run(async () => {
            setCopied(false)
            setLink(await client.groups.invite(detail.key, tier))
          })
        }
      >
        {make.busy ? "Making…" : `Make a ${tier} link`}
      </button>
      <ErrorLine error={make.error} />
      {link !== undefined && (
        <div class="invite">
          <label>
            Invite link ({tier})
            <textarea readOnly rows={3} value={link} />
          </label>
          <button
            type="button"
            onClick={() =>
              void navigator.clipboard.writeText(link).then(
                () => setCopied(true),
                () => setCopied(false),
              )
            }
          >
            Copy link
          </button>
          {copied && <span role="status"> Copied.</span>}
          <QrCode text={link} label={`QR code of the ${tier} invite link`} />
          <p class="muted">Anyone with this link can join with that role: send it privately.</p>
        </div>
      )}
    </>
  )
}

const BackupsTab = ({ client, detail }: { client: SaveDwebClient; detail: GroupDetail }) => {
  const [backups, setBackups] = useState<ReadonlyArray<GroupBackup> | undefined>(undefined)
  const [link, setLink] = useState("")
  const load = useAction()
  const change = useAction()
  const refresh = () => void load.run(() => client.backups.forGroup(detail.key).then(setBackups))
  useEffect(refresh, [client, detail.key])
  /** Runs a change; on success the list is asked again (and `then` runs). */
  const changing = <A,>(action: () => Promise<A>, then = () => {}) =>
    void change.run(action).then((r) => {
      if (r !== undefined) {
        then()
        refresh()
      }
    })
  const nameOf = (b: GroupBackup) => b.name ?? b.server.slice(0, 16)
  return (
    <>
      <h3>Backup servers</h3>
      <ErrorLine error={load.error ?? change.error} />
      {backups?.length === 0 && <p>No backup server holds this group.</p>}
      {backups !== undefined && backups.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Server</th>
              <th scope="col">Listed by</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {backups.map((b) => (
              <tr key={b.server}>
                <td title={b.server}>{nameOf(b)}</td>
                <td>
                  {b.listedBy
                    .map((m) => (m.mine ? "you" : (m.memberName ?? `member ${m.slot}`)))
                    .join(", ")}
                </td>
                <td>
                  {b.kept ? (
                    <button
                      type="button"
                      disabled={change.busy}
                      onClick={() =>
                        changing(() => client.backups.removeServer(detail.key, b.server))
                      }
                    >
                      Remove {nameOf(b)}
                    </button>
                  ) : (
                    <span class="muted">added elsewhere: remove it with its link</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault()
          changing(
            () => client.backups.add(detail.key, link.trim()),
            () => setLink(""),
          )
        }}
      >
        <label>
          Backup server link (save+dweb:backup…)
          <input value={link} onInput={(e) => setLink(e.currentTarget.value)} required />
        </label>
        <div class="row">
          <button type="submit" disabled={change.busy}>
            Add
          </button>
          <button
            type="button"
            disabled={change.busy || link.trim() === ""}
            onClick={() =>
              changing(
                () => client.backups.remove(detail.key, link.trim()),
                () => setLink(""),
              )
            }
          >
            Remove by link
          </button>
        </div>
      </form>
      <p class="muted">
        A backup server keeps encrypted copies and cannot read them; every member can fetch from it.
        A server added from this device is removed with its button; one another member or device
        added needs its link.
      </p>
    </>
  )
}
