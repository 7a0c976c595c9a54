// What every route group of the API shares: the backend and limits they serve, how a
// backend error becomes the API's, and how groups, files and errors are described.
import type { BackendShape, LoadedGroup, RepoRef } from "@save-dweb/backend"
import { type ApiError, errorStatus, type FileInfo, type GroupDetail } from "@save-dweb/client"
import { type Deferred, Duration, Effect, Option } from "effect"
import { HttpServerResponse } from "effect/http"
import { toApiError } from "../error-mapping.ts"
import type { SignInCodes } from "../sign-in.ts"

export interface HandlerDeps {
  readonly backend: BackendShape
  readonly limits: { readonly maxUploadBytes: number }
  readonly closing: Deferred.Deferred<void>
  readonly signIn: SignInCodes & { readonly token: string }
}

export const HEARTBEAT = Duration.seconds(15)

export const errorResponse = (error: ApiError, headers?: Record<string, string>) =>
  HttpServerResponse.jsonUnsafe(
    { error: error._tag, message: error.message },
    { status: errorStatus[error._tag], ...(headers === undefined ? {} : { headers }) },
  )

/** The group's description for the API. */
export const detailOf = (loaded: LoadedGroup) =>
  Effect.map(
    loaded.group.info,
    (info): GroupDetail => ({
      key: loaded.key,
      name: info.name ?? null,
      tier: loaded.group.tier,
      slot: loaded.group.slot ?? null,
      sourcePolicy: info.sourcePolicy,
      transport: info.transport,
      repo: Option.match(loaded.repo, { onNone: () => null, onSome: (r) => r.key }),
    }),
  )

export const api = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.mapError(effect, toApiError)

export const fileInfo = (f: {
  readonly name: string
  readonly hash: string
  readonly size: number
  readonly storedSize: number
  readonly createdAt: number
  readonly modifiedAt: number
  readonly owner: string
  readonly status: "local" | "remote-only"
  readonly pinned: boolean
}): FileInfo => ({
  name: f.name,
  hash: f.hash,
  size: f.size,
  storedSize: f.storedSize,
  createdAt: f.createdAt,
  modifiedAt: f.modifiedAt,
  owner: f.owner,
  status: f.status,
  pinned: f.pinned,
})

export const repoRef = (repo: string): RepoRef => repo
