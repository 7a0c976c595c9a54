// The manifest: what a reader needs to turn hashes into files. It is a blob in the
// repo's collection like any file, sealed with the group's file key, so a replicate
// holder sees one more opaque hash and size.
import { BlobHash } from "@save-dweb/blob-store"
import { openEnvelope, type SecretKey, sealEnvelope } from "@save-dweb/crypto"
import type { RecordKey } from "@save-dweb/dht-records"
import { Effect, Schema } from "effect"
import { DecryptFailed, InvalidManifest } from "./errors.ts"

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const ManifestEntry = Schema.Struct({
  name: Schema.String,
  /** Hash of the encrypted bytes in the blob store. */
  hash: BlobHash,
  /** Plaintext bytes. */
  size: Count,
  /** Encrypted bytes (what the store holds). */
  storedSize: Count,
  createdAt: Count,
  modifiedAt: Count,
})
export type ManifestEntry = typeof ManifestEntry.Type

export const Manifest = Schema.Struct({
  v: Schema.Literal(1),
  files: Schema.Array(ManifestEntry),
})
export type Manifest = typeof Manifest.Type

export const emptyManifest: Manifest = { v: 1, files: [] }

const ManifestJson = Schema.fromJsonString(Manifest)
const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/** Binds a manifest to its repo: one copied into another repo does not open. */
const manifestAd = (repo: RecordKey) =>
  encoder.encode(`save-dweb/data-repo/manifest/v1\0${repo.split(":").slice(0, 2).join(":")}`)

/** Associated data of every encrypted file (files may move between repos of a group). */
export const FILE_AD = encoder.encode("save-dweb/data-repo/file/v1")

export const sealManifest = (key: SecretKey, repo: RecordKey, manifest: Manifest) =>
  Effect.flatMap(Schema.encodeEffect(ManifestJson)(manifest).pipe(Effect.orDie), (json) =>
    sealEnvelope(key, encoder.encode(json), { associatedData: manifestAd(repo) }),
  )

export const openManifest = (key: SecretKey, repo: RecordKey, hash: BlobHash, sealed: Uint8Array) =>
  Effect.gen(function* () {
    const plain = yield* openEnvelope(key, sealed, { associatedData: manifestAd(repo) }).pipe(
      Effect.mapError(() => new DecryptFailed({ repo, what: "manifest", hash })),
    )
    const text = yield* Effect.try({
      try: () => decoder.decode(plain),
      catch: () => new InvalidManifest({ repo, hash, detail: "not UTF-8" }),
    })
    return yield* Schema.decodeUnknownEffect(ManifestJson)(text).pipe(
      Effect.mapError((e) => new InvalidManifest({ repo, hash, detail: e.message })),
    )
  })
