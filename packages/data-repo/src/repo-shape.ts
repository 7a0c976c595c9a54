// The shape of an open repo and what opening one takes: the `Repo` handle's interface, its
// options, and what it reads and writes (files, blobs, credentials). `repo.ts` makes it.
import type { BlobHash, BlobStoreService, Source } from "@save-dweb/blob-store"
import type { KeyPair, RecordKey } from "@save-dweb/dht-records"
import type { TunnelsShape } from "@save-dweb/tunnels"
import type { Effect, Option, Stream } from "effect"
import type { DataRepoError } from "./errors.ts"
import type { GroupBlobs } from "./group-blobs.ts"
import type { PinTracker } from "./holdings.ts"
import type { BackupRef, ManifestPointer } from "./record.ts"
import type { OnFetchProgress } from "./repo-fetch.ts"
import type { SourceDiscovery } from "./source-discovery.ts"
import type { SyncedFiles } from "./sync.ts"

/** What the member stores to open its own repo again (with `openMine`). */
export interface RepoCredentials {
  readonly key: RecordKey
  /** The record's owner key pair: whoever holds it writes the repo. */
  readonly owner: KeyPair
}

/** A file as the manifest lists it, with where its bytes are. */
export interface RepoFile {
  readonly name: string
  readonly hash: BlobHash
  /** Plaintext bytes. */
  readonly size: number
  /** Encrypted bytes, as stored and transferred. */
  readonly storedSize: number
  readonly createdAt: number
  readonly modifiedAt: number
  /** The repo's name (its member's, as subkey 0 says; read tier, so always readable). */
  readonly owner: string
  readonly status: "local" | "remote-only"
  /**
   * Another member's file kept here by this member's pin (a `pin`, or a read that fetched
   * it), which `unpin` lets go; false for own files and for files only a sync holds.
   */
  readonly pinned: boolean
}

/** What any tier sees of a repo: hashes and sizes of its collection's blobs, nothing more. */
export interface RepoBlob {
  readonly hash: BlobHash
  readonly size: number
}

export interface ReadOptions {
  /**
   * Where to fetch a blob that is not stored here (the owner's store, members, backup
   * servers). Default: found through the published routes (needs `tunnels`): the owner's
   * tunnel and Iroh node, and under source policy `any` every other member's too.
   */
  readonly sources?: ReadonlyArray<Source>
  /**
   * Told how a fetch of a file not held here advances (verified bytes so far, and the
   * blob's size once known), about every 100 ms; not called when the file is local.
   */
  readonly onFetchProgress?: OnFetchProgress
}

export interface ReadFileOptions extends ReadOptions {
  /**
   * The first plaintext byte to read (default 0). A file in format v2 is read from the
   * record that holds it; an older one is decrypted from its start and skipped to it.
   */
  readonly offset?: number
}

export type FileInput<E = never> = Stream.Stream<Uint8Array, E> | string

/** What a write may say of the file besides its bytes. */
export interface WriteOptions {
  /** Times to record instead of now: a file moved from another repo keeps its own. */
  readonly createdAt?: number
  readonly modifiedAt?: number
}

/** An open repo: the member's own (writable) or another member's. Closed with its scope. */
export interface Repo {
  readonly key: RecordKey
  /** This handle holds the owner key pair and the group's file key. */
  readonly writable: boolean
  /** Present on the member's own repo: store them to `openMine` later. */
  readonly credentials: Option.Option<RepoCredentials>
  /**
   * The repo's name (subkey 0, sealed under the group's names key); `""` when it has none
   * or this holder cannot read names (replicate tier).
   */
  readonly name: Effect.Effect<string, DataRepoError>
  /** Own repo: renames it (subkey 0; its backup list stays). */
  readonly rename: (name: string) => Effect.Effect<void, DataRepoError>
  /** The published pointer (subkey 1), from the network; none before the first write. */
  readonly pointer: Effect.Effect<Option.Option<ManifestPointer>, DataRepoError>
  /** The published tunnel routes (subkeys 2..3) that are not cleared. */
  readonly routes: Effect.Effect<ReadonlyArray<Uint8Array>, DataRepoError>
  /** Every tier: hashes and sizes of the collection's blobs (the manifest among them). */
  readonly blobs: (options?: ReadOptions) => Effect.Effect<ReadonlyArray<RepoBlob>, DataRepoError>
  /** Read tier: the files of the current manifest (fetched by hash if `sources` are given). */
  readonly list: (options?: ReadOptions) => Effect.Effect<ReadonlyArray<RepoFile>, DataRepoError>
  /** Read tier: the file's plaintext, from the local store, or fetched from `sources` first. */
  readonly read: (
    name: string,
    options?: ReadFileOptions,
  ) => Stream.Stream<Uint8Array, DataRepoError>
  /**
   * Own repo: encrypts, stores, updates manifest and collection, then publishes the root,
   * and answers. The previous root (with an overwritten file's old version) is freed right
   * after, in the background: before a later `delete` answers or the handle closes, and
   * at the next start's sweep if the process dies first.
   */
  readonly write: <E>(
    name: string,
    input: FileInput<E>,
    options?: WriteOptions,
  ) => Effect.Effect<RepoFile, E | DataRepoError>
  /**
   * Own repo: drops the name, publishes the new root, frees the blob here and waits until
   * what earlier writes replaced has been freed too.
   */
  readonly delete: (name: string) => Effect.Effect<void, DataRepoError>
  /**
   * Keep a local copy of a file (fetched from `sources` if missing); another member's file
   * is then pinned, and no longer dropped if it was.
   */
  readonly pin: (name: string, options?: ReadOptions) => Effect.Effect<void, DataRepoError>
  /**
   * Drop the local copy of another member's file: its pin, and its place in the synced
   * collection (later syncs leave it out until a `pin`). Own files stay: they are the repo.
   */
  readonly unpin: (name: string) => Effect.Effect<void, DataRepoError>
  /** The backup servers this repo lists (subkey 0), from the network; any tier reads them. */
  readonly backups: Effect.Effect<ReadonlyArray<BackupRef>, DataRepoError>
  /**
   * Own repo: lists a backup server (replacing an entry for the same record), so members
   * find it as a source. `TooManyBackups` past `MAX_BACKUPS`. Returns the new list.
   */
  readonly addBackup: (
    backup: Omit<BackupRef, "at">,
  ) => Effect.Effect<ReadonlyArray<BackupRef>, DataRepoError>
  /** Own repo: stops listing the backup whose descriptor record is `record`. */
  readonly removeBackup: (record: string) => Effect.Effect<ReadonlyArray<BackupRef>, DataRepoError>
}

/** What every handle of one `DataRepos` instance shares. */
export interface RepoContext {
  readonly store: BlobStoreService
  readonly blobs: GroupBlobs
  readonly discovery: SourceDiscovery
  /** Pins of other members' blobs, tracked so a sync drops them once the owner deletes. */
  readonly pins: PinTracker
  /** Synced files of other members' repos this member dropped. */
  readonly synced: SyncedFiles
}

export interface RepoHandleOptions {
  /** The record's owner key pair: with a slot in the group, the handle writes. */
  readonly owner?: KeyPair | undefined
  /** Own repo: serves the group's blobs and publishes its route on these. */
  readonly tunnels?: TunnelsShape | undefined
  /** Where sources are found when a call is given none. */
  readonly fetchVia?: TunnelsShape | undefined
}
