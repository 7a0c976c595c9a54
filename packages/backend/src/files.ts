// Files by group key: list, read, write, delete, pin and unpin in a repo of a known group
// (loaded first), and one sync pass of it. Own writes and deletes become `FilesChanged`.
import { type FileInput, FileNotFound, NotWritable, type Repo } from "@save-dweb/data-repo"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, Option, Sink, Stream } from "effect"
import { UnknownRepo } from "./errors.ts"
import type { EventHub } from "./events.ts"
import type { BackendShape, FileRead, LoadedGroup, RepoRef } from "./shape.ts"

export type FileOperations = Pick<
  BackendShape,
  "files" | "writeFile" | "deleteFile" | "readFile" | "pin" | "unpin" | "syncGroup"
>

export interface FileOperationsDeps {
  readonly loadGroup: BackendShape["loadGroup"]
  readonly events: EventHub
}

/** A repo of a loaded group: this member's own (`mine`), or one its members point to. */
export const repoOf = (loaded: LoadedGroup, ref: RepoRef) =>
  Effect.gen(function* () {
    const unknown = (message: string) => new UnknownRepo({ group: loaded.key, repo: ref, message })
    const own = Option.getOrUndefined(loaded.repo)
    if (ref === "mine") {
      if (own === undefined) {
        return yield* unknown(`no own repo in group ${loaded.key} (${loaded.group.tier} tier)`)
      }
      return own
    }
    if (own !== undefined && own.key === ref) return own
    const pointers = yield* loaded.group.repos
    if (!pointers.some((p) => p.repoKey === ref)) {
      return yield* unknown(`no repo ${ref} in group ${loaded.key}`)
    }
    return yield* loaded.openRepo(ref)
  })

const ownRepoOf = (loaded: LoadedGroup, operation: string) =>
  Option.match(loaded.repo, {
    onNone: () => Effect.fail(new NotWritable({ repo: undefined, operation })),
    onSome: Effect.succeed,
  })

export const makeFileOperations = ({ loadGroup, events }: FileOperationsDeps): FileOperations => {
  const publishOwnChange = (groupKey: RecordKey, repo: Repo) =>
    Effect.flatMap(Effect.option(repo.pointer), (pointer) =>
      events.publish({
        _tag: "FilesChanged",
        group: groupKey,
        repo: repo.key,
        root: Option.match(Option.flatten(pointer), {
          onNone: () => null,
          onSome: (p) => p.root,
        }),
        mine: true,
      }),
    )

  /** Publishes how a fetch of `name` for a read or a pin advances. */
  const fetchProgress =
    (group: RecordKey, repo: RecordKey, name: string) => (bytesDone: number, bytesTotal: number) =>
      events.publish({ _tag: "FileFetchProgress", group, repo, name, bytesDone, bytesTotal })

  const syncGroup = Effect.fn("Backend.syncGroup")(function* (groupKey: RecordKey) {
    return yield* (yield* loadGroup(groupKey)).sync()
  })

  const files = Effect.fn("Backend.files")(function* (groupKey: RecordKey, ref: RepoRef) {
    return yield* (yield* repoOf(yield* loadGroup(groupKey), ref)).list()
  })

  const writeFile = <E>(groupKey: RecordKey, name: string, input: FileInput<E>) =>
    Effect.gen(function* () {
      const repo = yield* ownRepoOf(yield* loadGroup(groupKey), "write")
      const file = yield* repo.write(name, input)
      yield* publishOwnChange(groupKey, repo)
      return file
    }).pipe(Effect.withSpan("Backend.writeFile"))

  const deleteFile = Effect.fn("Backend.deleteFile")(function* (groupKey: RecordKey, name: string) {
    const repo = yield* ownRepoOf(yield* loadGroup(groupKey), "delete")
    yield* repo.delete(name)
    yield* publishOwnChange(groupKey, repo)
  })

  const readFile = Effect.fn("Backend.readFile")(function* (
    groupKey: RecordKey,
    ref: RepoRef,
    name: string,
  ) {
    const repo = yield* repoOf(yield* loadGroup(groupKey), ref)
    const file = (yield* repo.list()).find((f) => f.name === name)
    if (file === undefined) return yield* new FileNotFound({ repo: repo.key, name })
    const onFetchProgress = fetchProgress(groupKey, repo.key, name)
    const from = (offset: number) => repo.read(name, { offset, onFetchProgress })
    const read: FileRead = {
      file,
      bytes: from(0),
      from,
      open: (offset = 0) =>
        Effect.map(Stream.peel(from(offset), Sink.head()), ([first, rest]) =>
          Option.match(first, {
            onNone: () => rest,
            onSome: (chunk) => Stream.concat(Stream.make(chunk), rest),
          }),
        ),
    }
    return read
  })

  const pin = Effect.fn("Backend.pin")(function* (groupKey: RecordKey, ref: RepoRef, name: string) {
    const repo = yield* repoOf(yield* loadGroup(groupKey), ref)
    yield* repo.pin(name, { onFetchProgress: fetchProgress(groupKey, repo.key, name) })
  })

  const unpin = Effect.fn("Backend.unpin")(function* (
    groupKey: RecordKey,
    ref: RepoRef,
    name: string,
  ) {
    yield* (yield* repoOf(yield* loadGroup(groupKey), ref)).unpin(name)
  })

  return { files, writeFile, deleteFile, readFile, pin, unpin, syncGroup }
}
