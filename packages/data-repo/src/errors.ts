import type {
  BlobNotFound,
  FetchError,
  InvalidCollection,
  InvalidRange,
  StoreError,
} from "@save-dweb/blob-store"
import type { DhtRecordsError, RecordKey } from "@save-dweb/dht-records"
import type { GroupError, InsufficientCapability } from "@save-dweb/group"
import { Data } from "effect"

export type InvalidFileNameReason =
  | "Empty"
  | "TooLong"
  | "NotNormalized"
  | "ControlCharacter"
  | "BidiOverride"
  | "PathSeparator"
  | "DotSegment"
  | "LoneSurrogate"

/**
 * A file name a repo refuses: it could escape a directory on export, not round-trip,
 * or show as another name (bidi overrides).
 */
export class InvalidFileName extends Data.TaggedError("InvalidFileName")<{
  readonly name: string
  readonly reason: InvalidFileNameReason
  readonly message: string
}> {
  constructor(args: { readonly name: string; readonly reason: InvalidFileNameReason }) {
    super({ ...args, message: `invalid file name (${args.reason}): ${JSON.stringify(args.name)}` })
  }
}

/** No file of that name in the repo's manifest. */
export class FileNotFound extends Data.TaggedError("FileNotFound")<{
  readonly repo: RecordKey
  readonly name: string
  readonly message: string
}> {
  constructor(args: { readonly repo: RecordKey; readonly name: string }) {
    super({ ...args, message: `no file ${JSON.stringify(args.name)} in repo ${args.repo}` })
  }
}

/** Writing needs the repo's owner key: only its member (write tier) has it. */
export class NotWritable extends Data.TaggedError("NotWritable")<{
  readonly repo: RecordKey | undefined
  readonly operation: string
  readonly message: string
}> {
  constructor(args: { readonly repo: RecordKey | undefined; readonly operation: string }) {
    super({
      ...args,
      message: `${args.operation}: ${args.repo === undefined ? "this member" : `repo ${args.repo}`} is not writable here (write tier and the repo's owner key needed)`,
    })
  }
}

/** A file or manifest did not decrypt under the group's file key (wrong key or damaged bytes). */
export class DecryptFailed extends Data.TaggedError("DecryptFailed")<{
  readonly repo: RecordKey
  readonly what: "file" | "manifest"
  readonly hash: string
  readonly message: string
}> {
  constructor(args: {
    readonly repo: RecordKey
    readonly what: "file" | "manifest"
    readonly hash: string
  }) {
    super({ ...args, message: `${args.what} ${args.hash} of repo ${args.repo} did not decrypt` })
  }
}

/** The repo's manifest decrypted but is not a manifest this version reads. */
export class InvalidManifest extends Data.TaggedError("InvalidManifest")<{
  readonly repo: RecordKey
  readonly hash: string
  readonly message: string
}> {
  constructor(args: { readonly repo: RecordKey; readonly hash: string; readonly detail: string }) {
    super({
      repo: args.repo,
      hash: args.hash,
      message: `manifest ${args.hash} of repo ${args.repo}: ${args.detail}`,
    })
  }
}

/** A blob the repo references is not in the local store, and no source was given to fetch it. */
export class NotLocal extends Data.TaggedError("NotLocal")<{
  readonly repo: RecordKey
  readonly hash: string
  readonly message: string
}> {
  constructor(args: { readonly repo: RecordKey; readonly hash: string }) {
    super({
      ...args,
      message: `blob ${args.hash} of repo ${args.repo} is not stored here and no source was given or found`,
    })
  }
}

/** The repo already lists as many backup servers as its record holds. */
export class TooManyBackups extends Data.TaggedError("TooManyBackups")<{
  readonly repo: RecordKey
  readonly max: number
  readonly message: string
}> {
  constructor(args: { readonly repo: RecordKey; readonly max: number }) {
    super({ ...args, message: `repo ${args.repo} already lists ${args.max} backup servers` })
  }
}

/** Everything a repo operation can fail with. */
export type DataRepoError =
  | InvalidFileName
  | FileNotFound
  | NotWritable
  | DecryptFailed
  | InvalidManifest
  | NotLocal
  | TooManyBackups
  | InsufficientCapability
  | GroupError
  | DhtRecordsError
  | BlobNotFound
  | InvalidRange
  | InvalidCollection
  | StoreError
  | FetchError
