// The `uri` a group answers with: the link the app shows as the group's QR code and hands
// to whoever should join. A manager hands out a write link (the app's joiner makes its own
// repo), minted once and remembered until somebody has joined with it, so listing groups
// never spends a member slot; other members hand out what they can give without a slot,
// a read link. Remembered links are kept in one file (mode 0600: they are secrets).
import { chmod, readFile, rename, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { BackendShape } from "@save-dweb/backend"
import { parseLinkResult } from "@save-dweb/uri-scheme"
import { Effect, Result, Semaphore } from "effect"

export const REMEMBERED_LINKS_FILE = "save-app-links.json"

export interface GroupLinks {
  /** The link to share for a known group (a write link only to its manager). */
  readonly linkOf: (
    backend: BackendShape,
    groupKey: string,
  ) => Effect.Effect<string, { readonly _tag: string; readonly message: string }>
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
    return { linkOf }
  })
