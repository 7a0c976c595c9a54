// The JSON the app's data classes parse (Save-app-android `SnowbirdDTOs.kt`): snake_case
// keys as save-rust wrote them; the app ignores keys it does not know.

/** `SnowbirdGroupDTO`: `uri` is what the app shares as the group's join code. */
export interface AppGroup {
  readonly key: string
  readonly name?: string
  readonly uri?: string
}

/** `SnowbirdRepoDTO`. */
export interface AppRepo {
  readonly key: string
  readonly name: string
  readonly can_write: boolean
}

/**
 * `SnowbirdFileDTO`: `hash` is how the app tells files apart; `size` in plaintext bytes;
 * `mimeType` (camelCase, as the app spells it) picks its icon and preview, left out when
 * the name's extension says nothing; `created_at` is ISO 8601 with an offset, which the
 * app parses with `OffsetDateTime.parse`.
 */
export interface AppFile {
  readonly name: string
  readonly hash: string
  readonly is_downloaded: boolean
  readonly size: number
  readonly mimeType?: string
  readonly created_at: string
}

/** `FileUploadResult`. */
export interface AppUploadResult {
  readonly name: string
  readonly updated_collection_hash: string
  readonly file_hash: string
}

/** `RefreshedRepo`: one repo of a refresh, with the files this pass brought here. */
export interface AppRefreshedRepo {
  readonly repo_id: string
  readonly name: string
  readonly can_write: boolean
  readonly repo_hash?: string
  readonly all_files: ReadonlyArray<string>
  readonly refreshed_files: ReadonlyArray<string>
  readonly error?: string
}

/** `RefreshGroupResponse`. */
export interface AppRefresh {
  readonly status: "success"
  readonly repos: ReadonlyArray<AppRefreshedRepo>
}
