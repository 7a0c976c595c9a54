// What the backend tells its listeners (the RPC server's event stream): plain data,
// keyed by group and repo record keys, so it crosses a process edge as JSON.
import type { SyncEvent } from "@save-dweb/data-repo"
import type { MembershipChange } from "@save-dweb/group"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, PubSub, type Scope, Stream } from "effect"

export interface MemberChangeSummary {
  readonly kind: MembershipChange["_tag"]
  readonly slot: number
  readonly name: string | null
}

export type BackendEvent =
  | {
      readonly _tag: "SyncStarted"
      readonly group: RecordKey
      readonly repo: RecordKey
      readonly root: string
    }
  | {
      readonly _tag: "SyncProgress"
      readonly group: RecordKey
      readonly repo: RecordKey
      readonly bytesDone: number
      readonly bytesTotal: number
      readonly blobsDone: number
      readonly blobsTotal: number
    }
  | {
      readonly _tag: "SyncDone"
      readonly group: RecordKey
      readonly repo: RecordKey
      readonly root: string
      /** The repo's collection was already here: nothing fetched. */
      readonly unchanged: boolean
    }
  | {
      readonly _tag: "SyncFailed"
      readonly group: RecordKey
      readonly repo: RecordKey
      /** The failure's tag, e.g. `NoSource`. */
      readonly error: string
      readonly message: string
    }
  | { readonly _tag: "Purged"; readonly group: RecordKey; readonly freed: number }
  /** A file being fetched to be read or pinned here (about every 100 ms while it comes). */
  | {
      readonly _tag: "FileFetchProgress"
      readonly group: RecordKey
      readonly repo: RecordKey
      readonly name: string
      readonly bytesDone: number
      /** The blob's size (encrypted), 0 until known. */
      readonly bytesTotal: number
    }
  | {
      readonly _tag: "MembersChanged"
      readonly group: RecordKey
      readonly changes: ReadonlyArray<MemberChangeSummary>
    }
  | {
      readonly _tag: "FilesChanged"
      readonly group: RecordKey
      readonly repo: RecordKey
      /** The repo's new collection root; `null` when it has none. */
      readonly root: string | null
      /** This member's own repo (written or deleted here). */
      readonly mine: boolean
    }
  | { readonly _tag: "GroupOpened"; readonly group: RecordKey }
  /**
   * The group was rotated (a member removed) and this member followed: it is `to` from now
   * on (the old key still finds it); its own files were re-encrypted there.
   */
  | { readonly _tag: "GroupMoved"; readonly group: RecordKey; readonly to: RecordKey }
  /** The group was rotated without this member: it was removed (or holds no slot to follow with). */
  | { readonly _tag: "RemovedFromGroup"; readonly group: RecordKey }
  | { readonly _tag: "GroupClosed"; readonly group: RecordKey }

const messageOf = (error: unknown): string =>
  typeof error === "object" &&
  error !== null &&
  "message" in error &&
  typeof error.message === "string"
    ? error.message
    : String(error)

/** The events a sync report becomes (progress of other sources' failures and `Done` are left out). */
export const fromSyncEvent = (group: RecordKey, event: SyncEvent): ReadonlyArray<BackendEvent> => {
  switch (event._tag) {
    case "RepoStarted":
      return [{ _tag: "SyncStarted", group, repo: event.repo, root: event.root }]
    case "RepoProgress": {
      const progress = event.event
      if (progress._tag !== "Progress") return []
      return [
        {
          _tag: "SyncProgress",
          group,
          repo: event.repo,
          bytesDone: progress.bytesDone,
          bytesTotal: progress.bytesTotal,
          blobsDone: progress.blobsDone,
          blobsTotal: progress.blobsTotal,
        },
      ]
    }
    case "RepoSynced":
      return [
        { _tag: "SyncDone", group, repo: event.repo, root: event.root, unchanged: false },
        { _tag: "FilesChanged", group, repo: event.repo, root: event.root, mine: false },
      ]
    case "RepoUnchanged":
      return [{ _tag: "SyncDone", group, repo: event.repo, root: event.root, unchanged: true }]
    case "RepoFailed":
      return [
        {
          _tag: "SyncFailed",
          group,
          repo: event.repo,
          error: event.error._tag,
          message: messageOf(event.error),
        },
      ]
    case "Purged":
      return [{ _tag: "Purged", group, freed: event.freed.length }]
  }
}

export const fromMembershipChanges = (
  group: RecordKey,
  changes: ReadonlyArray<MembershipChange>,
): BackendEvent => ({
  _tag: "MembersChanged",
  group,
  changes: changes.map((c) =>
    c._tag === "Joined" || c._tag === "Updated"
      ? { kind: c._tag, slot: c.member.slot, name: c.member.name ?? null }
      : { kind: c._tag, slot: c.slot, name: null },
  ),
})

/** Where the backend publishes its events and its listeners subscribe. */
export interface EventHub {
  readonly publish: (event: BackendEvent) => Effect.Effect<void>
  /** A sync report of the group, as events. */
  readonly reportSync: (group: RecordKey) => (event: SyncEvent) => Effect.Effect<void>
  readonly events: Stream.Stream<BackendEvent>
  readonly subscribe: Effect.Effect<Stream.Stream<BackendEvent>, never, Scope.Scope>
}

export const makeEventHub = Effect.gen(function* () {
  // Sliding: a listener that does not keep up loses the oldest events, never blocks a sync.
  const hub = yield* PubSub.sliding<BackendEvent>(1024)
  const publish = (event: BackendEvent) => Effect.asVoid(PubSub.publish(hub, event))
  const eventHub: EventHub = {
    publish,
    reportSync: (group) => (event) =>
      Effect.forEach(fromSyncEvent(group, event), publish, { discard: true }),
    events: Stream.fromPubSub(hub),
    subscribe: Effect.map(PubSub.subscribe(hub), Stream.fromSubscription),
  }
  return eventHub
})
