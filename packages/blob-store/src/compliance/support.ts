// What the compliance topics share: the stores, and bytes, sources and checks for them.
import { randomBytes } from "node:crypto"
import type { Vitest } from "@effect/vitest"
import { Context, Effect, type Scope, Stream } from "effect"
import type { BlobStoreService } from "../blob-store.ts"
import { SourceError } from "../errors.ts"
import type { BlobHash } from "../hash.ts"
import type { ByteStreamSource } from "../source.ts"

export interface ComplianceOptions {
  /** Makes one store in the given scope (a fresh directory for a persistent layer). */
  readonly makeStore: Effect.Effect<BlobStoreService, unknown, Scope.Scope>
  /** Per-test timeout in ms. Default 60 s. */
  readonly timeout?: number
}

interface Stores {
  readonly a: BlobStoreService
  readonly b: BlobStoreService
  readonly c: BlobStoreService
  /** A store a test may close. */
  readonly doomed: BlobStoreService
  readonly closeDoomed: Effect.Effect<void>
}

export class ComplianceStores extends Context.Service<ComplianceStores, Stores>()(
  "@save-dweb/blob-store/compliance/Stores",
) {}

/** The `it` of the suite's layer: every test reads the stores from it. */
export type ComplianceIt = Vitest.MethodsNonLive<ComplianceStores>

export const bytesOf = (n: number) => new Uint8Array(randomBytes(n))
export const text = (s: string) => new TextEncoder().encode(s)
export const readAll = (store: BlobStoreService, hash: BlobHash) =>
  Stream.mkUint8Array(store.read(hash))
export const equalBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

/** Hash and collection root Iroh 0.35 computes for these entries (measured). */
export const knownCollection = {
  entries: [
    { name: "a.txt", text: "hello" },
    { name: "dir/b", text: "" },
    { name: "ünï", text: "hello" },
  ],
  hello: "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f",
  root: "26cbf008ae94ad8ab0b9c17be746aa4104386811931050e3e525fe3f88940ac1",
}

/** A source that serves other bytes than asked for: what the store must never accept. */
export const lyingSource = (id: string): ByteStreamSource => ({
  _tag: "ByteStreamSource",
  id,
  open: () => Stream.make(text("not the bytes you are looking for")),
})

/** A tunnel-like source: streams a blob out of another store, after a delay. */
export const storeAsByteSource = (
  id: string,
  store: BlobStoreService,
  delayMillis: number,
): ByteStreamSource => ({
  _tag: "ByteStreamSource",
  id,
  open: (hash) =>
    Stream.fromEffect(Effect.sleep(delayMillis)).pipe(
      Stream.flatMap(() => store.read(hash)),
      Stream.mapError((e) => new SourceError({ source: id, reason: e.message })),
    ),
})
