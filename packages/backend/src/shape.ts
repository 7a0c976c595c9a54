// The backend's face: the service shape and the data its calls take and return.
import type { Source, StoreError } from "@save-dweb/blob-store"
import type {
  DataRepoError,
  FileInput,
  KeepSyncedOptions,
  Repo,
  RepoFile,
  SyncOptions,
  SyncResult,
} from "@save-dweb/data-repo"
import type { Group, GroupError, SourcePolicy, Tier, Transport } from "@save-dweb/group"
import type { CallError, InvalidRouteBlob, ResponseTooLarge } from "@save-dweb/tunnels"
import type { CapabilityTier } from "@save-dweb/uri-scheme"
import type { RecordKey, VeilidError } from "@save-dweb/veilid"
import type { Duration, Effect, Option, Scope, Stream } from "effect"
import type { BackupsShape } from "./backups.ts"
import type {
  GroupAlreadyKnown,
  InvalidKnownGroup,
  InvalidPairingLink,
  MemberUnreachable,
  NeedsLocalCopy,
  NotOwnSlot,
  NotPairable,
  UnknownGroup,
  UnknownRepo,
} from "./errors.ts"
import type { BackendEvent } from "./events.ts"
import type { NetworkStatus } from "./node.ts"

export type BackendError =
  | GroupError
  | DataRepoError
  | VeilidError
  | UnknownGroup
  | GroupAlreadyKnown
  | InvalidKnownGroup
  | UnknownRepo
  | NotOwnSlot
  | NeedsLocalCopy

/** What device pairing fails with besides `BackendError`. */
export type PairingError = NotPairable | InvalidPairingLink

/** What `ping` fails with besides `BackendError`: no route to the member, or the call failed. */
export type PingError = MemberUnreachable | InvalidRouteBlob | CallError | ResponseTooLarge

/**
 * `true` (or options): each loaded group runs data-repo's `keepSynced` while it is
 * loaded, so other members' files arrive (and deleted ones are freed) without a `sync`
 * call; its progress goes to `events`. Default off.
 */
export type AutoSync = boolean | Omit<KeepSyncedOptions, "onProgress" | "onResult">

export interface BackendStatus {
  /** `undefined` when the backend runs without Veilid (memory layers in tests). */
  readonly network: NetworkStatus | undefined
  /** This node's Iroh node; `undefined` for a store that has none (memory layers). */
  readonly iroh: { readonly nodeId: string; readonly addresses: ReadonlyArray<string> } | undefined
  readonly groups: { readonly known: number; readonly loaded: number }
}

/** A current member of a group, as `members` lists it. */
export interface MemberSummary {
  readonly slot: number
  readonly name: string | undefined
  readonly repo: RecordKey | undefined
  readonly joinedAt: number
  /** This backend's own slot. */
  readonly mine: boolean
}

/** A file about to be read: its manifest entry, and its plaintext once the bytes are here. */
export interface FileRead {
  /** The file as listed: `status` says whether it is held here or still to fetch. */
  readonly file: RepoFile
  /**
   * The plaintext. A file not held here is fetched (and kept) while it is read: from the
   * start it streams as it arrives, each record authenticated before it goes out; a fetch
   * failure fails the stream.
   */
  readonly bytes: Stream.Stream<Uint8Array, BackendError>
  /**
   * Plaintext from byte `offset` on, read from where it is stored (a version-2 file
   * starts at the record holding `offset`, not at the file's start); a file not held here
   * is fetched whole first.
   */
  readonly from: (offset: number) => Stream.Stream<Uint8Array, BackendError>
  /**
   * `from(offset)` (default 0) once its first bytes are here, so a server can still answer
   * a fetch failure (no source, none reachable) with a status instead of a cut body; the
   * rest follows within the caller's scope.
   */
  readonly open: (
    offset?: number,
  ) => Effect.Effect<Stream.Stream<Uint8Array, BackendError>, BackendError, Scope.Scope>
}

/** A repo of a loaded group: a record key, or `"mine"` for this member's own. */
export type RepoRef = RecordKey | "mine"

/** A known group, as `listGroups` reports it (from storage, no network). */
export interface GroupSummary {
  readonly key: RecordKey
  /** The name as last read from the group record. */
  readonly name: string | undefined
  readonly tier: Tier
  readonly loaded: boolean
}

/** Another member's repo as `LoadedGroup.repos` lists it. */
export interface RepoSummary {
  readonly key: RecordKey
  readonly slot: number
  readonly memberName: string | undefined
  /** The repo's own name (subkey 0 of its record). */
  readonly name: string
  readonly mine: boolean
}

/** An open group: its handle, this member's repo, and other members' repos on demand. */
export interface LoadedGroup {
  readonly key: RecordKey
  readonly group: Group
  /** This member's repo (write tier and up); `None` for read and replicate links. */
  readonly repo: Option.Option<Repo>
  /** Every member's repo with its name; opened once and kept while the group is loaded. */
  readonly repos: Effect.Effect<ReadonlyArray<RepoSummary>, BackendError>
  /** One repo of the group (read-only unless it is ours), kept while the group is loaded. */
  readonly openRepo: (key: RecordKey) => Effect.Effect<Repo, BackendError>
  /**
   * One pass of data-repo's `syncAll` for this group: every other member's current files
   * fetched (sources per the group's policy), replaced and deleted ones freed from disk.
   */
  readonly sync: (options?: SyncOptions) => Effect.Effect<SyncResult, BackendError>
}

/** One holder of a file off this device, as `fileCopies` found it. */
export interface FileCopy {
  readonly kind: "member" | "backup"
  /** `member:<slot>` or `backup:<descriptor record>`. */
  readonly id: string
  /** The member's name, or the backup server's as the owner's repo lists it. */
  readonly name: string
  /** `verified`: it proved possession now; `unknown`: it did not answer (not counted). */
  readonly status: "verified" | "unknown"
  /** When this device first saw it prove the copy (since this process started). */
  readonly since: number | undefined
  readonly verifiedAt: number | undefined
  /** How it was verified: a possession proof over a random range of the stored blob. */
  readonly how: "proof" | undefined
}

/** A file's copies off this device (holders that said no or failed the proof are left out). */
export interface FileCopies {
  readonly group: RecordKey
  readonly repo: RecordKey
  readonly name: string
  readonly hash: string
  readonly checkedAt: number
  /** Copies proven now. */
  readonly verified: number
  /** The group's target, if set, and whether `verified` reaches it. */
  readonly target: number | undefined
  readonly reached: boolean | undefined
  readonly copies: ReadonlyArray<FileCopy>
}

/** How many of this member's files in a group have at least `atLeast` copies off this device. */
export interface CopiesSummary {
  readonly group: RecordKey
  readonly atLeast: number
  readonly files: number
  /** Files with at least `atLeast` verified copies. */
  readonly safe: number
  /** Files below it that would reach it if the holders that did not answer hold a copy. */
  readonly unknown: number
}

/** What `removeMember` did: the group's key before, and the key it has from now on. */
export interface MemberRemoved {
  readonly previous: RecordKey
  readonly group: RecordKey
}

export interface CreateGroupOptions {
  /** This member's name in the group's slot. */
  readonly memberName?: string
  /** The member's repo name; defaults to `memberName`, then the group name. */
  readonly repoName?: string
  /** Who may serve a member's files: `any` member (group's default) or its `owner-only`. */
  readonly sourcePolicy?: SourcePolicy
  /**
   * How blobs travel: `private` (default) only over Veilid private routes, no member's IP
   * address told; `direct` also over Iroh QUIC between read-tier members (faster).
   */
  readonly transport?: Transport
}

export interface JoinGroupOptions {
  readonly memberName?: string
  readonly repoName?: string
}

export interface BackendShape extends BackupsShape {
  readonly storageDir: string
  readonly createGroup: (
    name: string,
    options?: CreateGroupOptions,
  ) => Effect.Effect<LoadedGroup, BackendError>
  /** Joins from an invite link; a write link also makes this member's repo. */
  readonly joinGroup: (
    link: string,
    options?: JoinGroupOptions,
  ) => Effect.Effect<LoadedGroup, BackendError>
  /** A known group, opened from stored credentials (the open handle if already loaded). */
  readonly loadGroup: (key: RecordKey) => Effect.Effect<LoadedGroup, BackendError>
  readonly listGroups: Effect.Effect<ReadonlyArray<GroupSummary>, BackendError>
  /** Closes the group's handles (its repo's route is cleared); it stays known. */
  readonly closeGroup: (key: RecordKey) => Effect.Effect<void>
  /**
   * Closes the group, drops its stored credentials (nothing is written to the group) and
   * frees what was synced or pinned of its other members' repos.
   */
  readonly forgetGroup: (key: RecordKey) => Effect.Effect<void, VeilidError>
  /** This node's Iroh address (others find it over this node's tunnel route by themselves). */
  readonly source: Effect.Effect<Source, StoreError>
  /**
   * An authenticated round trip to the member in `slot` of a loaded group, over the route
   * published in its repo record (a request on data-repo's Iroh-address protocol, which
   * answers only holders of the group's tunnel key). Returns the round trip's latency.
   */
  readonly ping: (
    groupKey: RecordKey,
    slot: number,
  ) => Effect.Effect<Duration.Duration, BackendError | PingError>

  // The calls below take a known group's key and load it when it is not loaded.

  /** Veilid attachment and peers, the Iroh node, known and loaded groups. */
  readonly status: Effect.Effect<BackendStatus>
  /**
   * Sync progress, membership changes and file changes of loaded groups, groups opened and
   * closed. Each run of the stream subscribes anew and sees what happens from then on; a
   * subscriber that falls more than 1024 events behind loses the oldest.
   */
  readonly events: Stream.Stream<BackendEvent>
  /**
   * `events`, subscribed at once: nothing published after this effect completes is missed
   * (subscribe, then act, then read). The subscription ends with the scope.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<BackendEvent>, never, Scope.Scope>
  /** The group's current members (read from the network). */
  readonly members: (
    groupKey: RecordKey,
  ) => Effect.Effect<ReadonlyArray<MemberSummary>, BackendError>
  /** An invite link (text) for `tier`; a write link takes a slot (manager only). */
  readonly invite: (
    groupKey: RecordKey,
    tier: CapabilityTier,
  ) => Effect.Effect<string, BackendError>
  /** Changes the group's transport (manager only); members follow at their next request. */
  readonly setTransport: (
    groupKey: RecordKey,
    transport: Transport,
  ) => Effect.Effect<void, BackendError>
  /**
   * Manager: removes the member in `slot` (revoked, then the group rotated to new secrets:
   * a new record key, see `MemberRemoved`). The remaining members' backends follow by
   * themselves; this member's own files are re-encrypted into its repo in the new group.
   */
  readonly removeMember: (
    groupKey: RecordKey,
    slot: number,
  ) => Effect.Effect<MemberRemoved, BackendError>
  /** Manager: renames the group (and the name kept for `listGroups`). */
  readonly renameGroup: (groupKey: RecordKey, name: string) => Effect.Effect<void, BackendError>
  /** This member's own name in the group (`NotOwnSlot` for another slot: each member names itself). */
  readonly renameMember: (
    groupKey: RecordKey,
    slot: number,
    name: string,
  ) => Effect.Effect<void, BackendError>
  /** Leaves the group (a tombstone in this member's slot, write tiers) and forgets it here. */
  readonly leaveGroup: (groupKey: RecordKey) => Effect.Effect<void, BackendError>
  /** One sync pass of the group (as `LoadedGroup.sync`), reported on `events`. */
  readonly syncGroup: (groupKey: RecordKey) => Effect.Effect<SyncResult, BackendError>
  /** The files of a repo of the group, each `local` or `remote-only` here, and `pinned` or not. */
  readonly files: (
    groupKey: RecordKey,
    repo: RepoRef,
  ) => Effect.Effect<ReadonlyArray<RepoFile>, BackendError>
  /** Writes a file into this member's repo (`NotWritable` without one); `FilesChanged` follows. */
  readonly writeFile: <E>(
    groupKey: RecordKey,
    name: string,
    input: FileInput<E>,
  ) => Effect.Effect<RepoFile, E | BackendError>
  /** Deletes a file of this member's repo; `FilesChanged` follows. */
  readonly deleteFile: (groupKey: RecordKey, name: string) => Effect.Effect<void, BackendError>
  /**
   * A file of any repo of the group: `FileNotFound` comes before any byte, and so do fetch
   * failures through `open`, so a caller can answer with a status first.
   */
  readonly readFile: (
    groupKey: RecordKey,
    repo: RepoRef,
    name: string,
  ) => Effect.Effect<FileRead, BackendError>
  /**
   * The file's copies off this device: every other member and every backup server the
   * repo lists is asked to prove it holds the file's blob now (over its private route);
   * an unreachable holder is `unknown`, one that does not hold it or fails the proof is
   * left out. Needs a local copy to check the proofs against (`NeedsLocalCopy` without one).
   */
  readonly fileCopies: (
    groupKey: RecordKey,
    repo: RepoRef,
    name: string,
  ) => Effect.Effect<FileCopies, BackendError>
  /** Checks every own file of the group (`atLeast` default: the group's target, else 1). */
  readonly copiesSummary: (
    groupKey: RecordKey,
    atLeast?: number,
  ) => Effect.Effect<CopiesSummary, BackendError>
  /** "Keep at least N copies off this device" for the group, if set (kept on this device). */
  readonly copiesTarget: (groupKey: RecordKey) => Effect.Effect<number | undefined, BackendError>
  /** Sets (or with `undefined` clears) the target; files reaching it are told as `CopiesReached`. */
  readonly setCopiesTarget: (
    groupKey: RecordKey,
    atLeast: number | undefined,
  ) => Effect.Effect<void, BackendError>
  /** Keeps a local copy of a file (fetched now if missing). */
  readonly pin: (
    groupKey: RecordKey,
    repo: RepoRef,
    name: string,
  ) => Effect.Effect<void, BackendError>
  /**
   * Drops the local copy of another member's file, pinned or synced (later syncs leave it
   * out until `pin`); own files stay: they are the repo.
   */
  readonly unpin: (
    groupKey: RecordKey,
    repo: RepoRef,
    name: string,
  ) => Effect.Effect<void, BackendError>
  /**
   * A device-pairing link (seed 003) carrying this member's identity in the given groups
   * (default: every known group it has a slot and a repo in). It holds secrets.
   */
  readonly makePairingLink: (
    groupKeys?: ReadonlyArray<RecordKey>,
  ) => Effect.Effect<string, BackendError | PairingError>
  /**
   * Uses a pairing link: this backend becomes that member in each of its groups (stored,
   * then loaded; the repo is continued with `openMine`, its files fetched from the other
   * device through the published routes). `GroupAlreadyKnown` if any group is known here
   * (nothing is stored then). A group whose load fails stays stored: `loadGroup` retries.
   */
  readonly pair: (
    link: string,
  ) => Effect.Effect<ReadonlyArray<GroupSummary>, BackendError | PairingError>
}
