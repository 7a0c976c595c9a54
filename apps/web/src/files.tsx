// Every member's files: upload (drop or pick, several at once), download with progress,
// delete own, keep a copy here (pin) or drop it (unpin: a pinned or synced copy).
import type {
  FileInfo,
  GroupDetail,
  RepoSummary,
  SaveDwebClient,
  ServerEvent,
} from "@save-dweb/client/promise"
import { useEffect, useState } from "preact/hooks"
import { errorText, formatBytes, place } from "./format.ts"
import { ErrorLine, useAction } from "./use-action.tsx"

interface RepoFiles {
  readonly repo: RepoSummary
  readonly files?: ReadonlyArray<FileInfo>
  readonly error?: string
}

interface Transfer {
  readonly name: string
  readonly done: number
  readonly total: number
  readonly state: "waiting" | "sending" | "receiving" | "done" | "failed"
  readonly error?: string
}

/** Saves bytes as a download of the browser (an object URL, revoked after the click). */
const saveAs = (name: string, parts: ReadonlyArray<Uint8Array>) => {
  const url = URL.createObjectURL(new Blob(parts as unknown as Array<BlobPart>))
  const a = document.createElement("a")
  a.href = url
  a.download = name
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

export const FilesTab = ({
  client,
  detail,
  lastEvent,
}: {
  client: SaveDwebClient
  detail: GroupDetail
  lastEvent: ServerEvent | undefined
}) => {
  const [repos, setRepos] = useState<ReadonlyArray<RepoFiles> | undefined>(undefined)
  const [transfers, setTransfers] = useState<ReadonlyArray<Transfer>>([])
  const [dragging, setDragging] = useState(false)
  const load = useAction()
  const act = useAction()

  const refresh = () =>
    void load.run(async () => {
      const all = await client.groups.repos(detail.key)
      const listed = await Promise.all(
        all.map(async (repo): Promise<RepoFiles> => {
          try {
            return {
              repo,
              files: await client.files.list(detail.key, repo.mine ? "mine" : repo.key),
            }
          } catch (e) {
            return { repo, error: errorText(e) }
          }
        }),
      )
      setRepos(listed)
    })
  useEffect(refresh, [client, detail.key])
  useEffect(() => {
    if (
      (lastEvent?._tag === "FilesChanged" || lastEvent?._tag === "SyncDone") &&
      lastEvent.group === detail.key
    ) {
      refresh()
    }
  }, [lastEvent])

  const track = (name: string, change: Partial<Transfer>) =>
    setTransfers((all) => all.map((t) => (t.name === name ? { ...t, ...change } : t)))

  const upload = async (files: ReadonlyArray<File>) => {
    setTransfers((all) => [
      ...all.filter((t) => !files.some((f) => f.name === t.name)),
      ...files.map((f): Transfer => ({ name: f.name, done: 0, total: f.size, state: "waiting" })),
    ])
    for (const file of files) {
      track(file.name, { state: "sending" })
      try {
        // The client counts the bytes as the browser sends them (XMLHttpRequest's progress).
        await client.files.upload(detail.key, file.name, file, {
          onProgress: (sent) => track(file.name, { done: sent }),
        })
        track(file.name, { state: "done", done: file.size })
      } catch (e) {
        track(file.name, { state: "failed", error: errorText(e) })
      }
    }
    refresh()
  }

  const download = async (repo: RepoSummary, file: FileInfo) => {
    const name = file.name
    setTransfers((all) => [
      ...all.filter((t) => t.name !== name),
      { name, done: 0, total: file.size, state: "receiving" },
    ])
    try {
      const { body } = await client.files.download(detail.key, repo.mine ? "mine" : repo.key, name)
      const parts: Array<Uint8Array> = []
      let done = 0
      const reader = body.getReader()
      for (;;) {
        const next = await reader.read()
        if (next.done) break
        parts.push(next.value)
        done += next.value.length
        track(name, { done })
      }
      saveAs(name, parts)
      track(name, { state: "done" })
    } catch (e) {
      track(name, { state: "failed", error: errorText(e) })
    }
  }

  const canWrite = detail.repo !== null
  return (
    <>
      {canWrite && (
        <section
          class={dragging ? "drop dragging" : "drop"}
          aria-label="Add files"
          onDragOver={(e) => {
            e.preventDefault()
            setDragging(true)
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(e) => {
            e.preventDefault()
            setDragging(false)
            const files = [...(e.dataTransfer?.files ?? [])]
            if (files.length > 0) void upload(files)
          }}
        >
          <p>Drop files here to add them, or</p>
          <label class="button">
            Choose files
            <input
              type="file"
              multiple
              class="visually-hidden"
              onChange={(e) => {
                const files = [...(e.currentTarget.files ?? [])]
                e.currentTarget.value = ""
                if (files.length > 0) void upload(files)
              }}
            />
          </label>
        </section>
      )}
      {transfers.length > 0 && (
        <section aria-labelledby="transfers-h">
          <h3 id="transfers-h">Transfers</h3>
          <ul class="transfers">
            {transfers.map((t) => (
              <li key={t.name}>
                <span>{t.name}</span>
                <progress
                  max={Math.max(t.total, 1)}
                  value={t.state === "done" ? Math.max(t.total, 1) : t.done}
                  aria-label={`${t.name}: ${t.state}`}
                />
                <span class={t.state === "failed" ? "error" : "muted"}>
                  {t.state === "failed"
                    ? t.error
                    : `${t.state} ${formatBytes(t.done)} of ${formatBytes(t.total)}`}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
      <ErrorLine error={load.error ?? act.error} />
      {repos === undefined && load.error === undefined && <p role="status">Loading files…</p>}
      {repos?.map(({ repo, files, error }) => (
        <section key={repo.key} aria-label={`Files of ${repo.memberName ?? repo.name}`}>
          <h3>
            {repo.memberName ?? `member ${repo.slot}`}
            {repo.mine ? " (you)" : ""}
          </h3>
          <ErrorLine error={error} />
          {files?.length === 0 && <p class="muted">No files.</p>}
          {files !== undefined && files.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Size</th>
                  <th scope="col">Where</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {files.map((f) => (
                  <tr key={f.name}>
                    <td class="name">{f.name}</td>
                    <td>{formatBytes(f.size)}</td>
                    <td>{place(f)}</td>
                    <td class="actions">
                      <button type="button" onClick={() => void download(repo, f)}>
                        Download<span class="visually-hidden"> {f.name}</span>
                      </button>
                      {repo.mine ? (
                        <button
                          type="button"
                          disabled={act.busy}
                          onClick={() =>
                            void act
                              .run(() => client.files.delete(detail.key, f.name))
                              .then(refresh)
                          }
                        >
                          Delete<span class="visually-hidden"> {f.name}</span>
                        </button>
                      ) : (
                        <>
                          {f.pinned !== true && (
                            <button
                              type="button"
                              disabled={act.busy}
                              onClick={() =>
                                void act
                                  .run(() => client.files.pin(detail.key, repo.key, f.name))
                                  .then(refresh)
                              }
                            >
                              Keep here<span class="visually-hidden"> {f.name}</span>
                            </button>
                          )}
                          {f.status === "local" && (
                            // Pinned, or held by the group's sync: either way it is dropped here.
                            <button
                              type="button"
                              disabled={act.busy}
                              onClick={() =>
                                void act
                                  .run(() => client.files.unpin(detail.key, repo.key, f.name))
                                  .then(refresh)
                              }
                            >
                              Unpin<span class="visually-hidden"> {f.name}</span>
                            </button>
                          )}
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ))}
    </>
  )
}
