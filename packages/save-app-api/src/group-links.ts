// The `uri` a group answers with: the link the app shows as the group's QR code and hands
// to whoever should join. A manager hands out a write link (the app's joiner makes its own
// repo), minted once and remembered until somebody has joined with it, so listing groups
// never spends a member slot; other members hand out what they can give without a slot,
// a read link. Remembered links are kept in one file (mode 0600: they are secrets). A link
// is spent once its slot shows up in the members, or in a membership change the backend
// reports while the group is loaded (a member who joined and already left is no longer
// listed, but its link no longer joins).
import { chmod, readFile, rename, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { BackendEvent, BackendShape } from "@save-dweb/backend"
import { parseLinkResult } from "@save-dweb/uri-scheme"
import { Effect, Result, Semaphore, Stream } from "effect"

export const REMEMBERED_LINKS_FILE = "save-app-links.json"

export interface GroupLinks {
  /** The link to share for a known group (a write link only to its manager). */
  readonly linkOf: (
    backend: BackendShape,
    groupKey: string,
  ) => Effect.Effect<string, { readonly _tag: string; readonly message: string }>
  /**
   * Forgets a remembered link as soon as the backend reports a membership change in its
   * slot (joined, left, revoked); runs until interrupted.
   */
  readonly followMembers: (backend: BackendShape) => Effect.Effect<void>
}

/** The member slot a write link gives, or `undefined` for any other link. */
const writeSlotOf = (link: string): number | undefined => {
  const parsed = parseLinkResult(link)
  if (Result.isFailure(parsed)) return undefined
  const value = parsed.success
  return value._tag === "GroupInvite" && value.capability._tag === "WriteCapability"
    ? value.capability.slot
    : undefined
}

const readRemembered = (file: string) =>
  Effect.promise(async (): Promise<Record<string, string>> => {
    try {
      const parsed: unknown = JSON.parse(await readFile(file, "utf8"))
      return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, string>) : {}
    } catch {
      // None yet, or damaged: links are minted anew (a slot each), nothing else is lost.
      return {}
    }
  })

const writeRemembered = (file: string, links: Record<string, string>) =>
  Effect.promise(async () => {
    const temp = `${file}.tmp`
    await writeFile(temp, JSON.stringify(links), { mode: 0o600 })
    await chmod(temp, 0o600)
    await rename(temp, file)
  })

export const makeGroupLinks = (dataDir: string): Effect.Effect<GroupLinks> =>
  Effect.gen(function* () {
    const file = join(dataDir, REMEMBERED_LINKS_FILE)
    // One mint at a time: two listings at once must not take two slots.
    const lock = yield* Semaphore.make(1)

    const managerLink = (backend: BackendShape, groupKey: string) =>
      Effect.gen(function* () {
        const remembered = yield* readRemembered(file)
        const held = remembered[groupKey]
        const slot = held === undefined ? undefined : writeSlotOf(held)
        if (held !== undefined && slot !== undefined) {
          const members = yield* backend.members(groupKey)
          if (!members.some((m) => m.slot === slot)) return held
        }
        const minted = yield* backend.invite(groupKey, "write")
        yield* writeRemembered(file, { ...remembered, [groupKey]: minted })
        return minted
      }).pipe(lock.withPermit)

    const linkOf = Effect.fn("SaveAppApi.linkOf")(function* (
      backend: BackendShape,
      groupKey: string,
    ) {
      const summary = (yield* backend.listGroups).find((g) => g.key === groupKey)
      switch (summary?.tier) {
        case "manage":
          return yield* managerLink(backend, groupKey)
        case "replicate":
          return yield* backend.invite(groupKey, "replicate")
        default:
          return yield* backend.invite(groupKey, "read")
      }
    })
    /** The group's remembered link is forgotten if `event` touched its slot. */
    const spend = (event: BackendEvent) =>
      Effect.gen(function* () {
        if (event._tag !== "MembersChanged") return
        const remembered = yield* readRemembered(file)
        const held = remembered[event.group]
        const slot = held === undefined ? undefined : writeSlotOf(held)
        if (slot === undefined || !event.changes.some((c) => c.slot === slot)) return
        const { [event.group]: _spent, ...rest } = remembered
        yield* writeRemembered(file, rest)
      }).pipe(lock.withPermit)

    const followMembers = (backend: BackendShape) => Stream.runForEach(backend.events, spend)

    return { linkOf, followMembers }
  })
