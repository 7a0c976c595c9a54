// Where a repo's blobs can be fetched from, found without the caller's help: every member
// that publishes a route serves its store on it (blob-store's tunnel protocol) and answers
// "where is your Iroh node" on a second protocol and possession proofs on a third, all
// behind the group's tunnel-auth key.
// The Iroh address thus travels only inside a tunnel, to members who ask for it.
import { createHash } from "node:crypto"
import {
  BLOBS_PROTOCOL,
  type BlobHash,
  type BlobStoreService,
  blobsHandler,
  type IrohSource,
  type Source,
  tunnelSource,
} from "@save-dweb/blob-store"
import { type Handler, type Peer, requestHandler, type TunnelsShape } from "@save-dweb/tunnels"
import { Duration, Effect, Option, Result, Schema, type Scope } from "effect"
import { proofHandler } from "./possession.ts"

/** The Iroh-address protocol's answer: the member's node, or `null` (no Iroh node here). */
export const IrohAddress = Schema.Struct({
  v: Schema.Literal(1),
  node: Schema.NullOr(
    Schema.Struct({
      nodeId: Schema.String.check(Schema.isMaxLength(128)),
      addresses: Schema.Array(Schema.String.check(Schema.isMaxLength(128))).check(
        Schema.isMaxLength(64),
      ),
    }),
  ),
})
export type IrohAddress = typeof IrohAddress.Type

const IrohAddressJson = Schema.fromJsonString(IrohAddress)
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()
/** Bounds what a member can make us read as an answer. */
const MAX_ADDRESS_BYTES = 16 * 1024

/**
 * Protocol names per group, so one node (one `Tunnels`) can serve several groups, each
 * behind its own key: tunnels allows one handler per protocol name (≤ 64 ASCII bytes).
 */
export const groupProtocols = (groupKey: string) => {
  const id = createHash("sha256").update(groupKey).digest("hex").slice(0, 16)
  return {
    blobs: `${BLOBS_PROTOCOL}/${id}`,
    iroh: `save-dweb/data-repo/iroh/1/${id}`,
    proof: `save-dweb/data-repo/proof/1/${id}`,
  }
}

/** What `store.source()` says, as the answer to give: only an Iroh node is worth telling. */
const ownAddress = (store: BlobStoreService): Effect.Effect<IrohAddress> =>
  store.source().pipe(
    Effect.map(
      (source): IrohAddress => ({
        v: 1,
        node:
          source._tag === "IrohSource"
            ? { nodeId: source.nodeId, addresses: [...source.addresses] }
            : null,
      }),
    ),
    Effect.orElseSucceed((): IrohAddress => ({ v: 1, node: null })),
  )

/**
 * Serves the blobs of `store` that `allow` admits, proofs of holding them, and the Iroh
 * address, on `tunnels` to
 * holders of `key` until the scope closes. `allow` keeps one group's members from probing
 * for another group's blobs on the same store: a refused blob is answered as not found.
 * A second handle of the same group on the same node finds the protocols taken and leaves
 * them to the first.
 */
export const serveMember = (
  tunnels: TunnelsShape,
  store: BlobStoreService,
  groupKey: string,
  key: Parameters<TunnelsShape["connect"]>[1],
  allow: (hash: BlobHash) => Effect.Effect<boolean>,
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const protocols = groupProtocols(groupKey)
    const serve = <E>(protocol: string, handler: Handler<E>, what: string) =>
      tunnels.serve(protocol, handler, { keys: [key] }).pipe(
        Effect.catchTag("ProtocolInUse", () =>
          Effect.logDebug(`data-repo: ${what} already served for this group on this node`),
        ),
        // The names are built here from a fixed prefix and 16 hex digits.
        Effect.catchTag("InvalidProtocolName", (e) => Effect.die(e)),
      )
    yield* serve(protocols.blobs, blobsHandler(store, allow), "blobs")
    yield* serve(
      protocols.iroh,
      requestHandler(() =>
        Effect.map(ownAddress(store), (a) => utf8.encode(Schema.encodeSync(IrohAddressJson)(a))),
      ),
      "the Iroh address",
    )
    yield* serve(protocols.proof, proofHandler(store, allow), "possession proofs")
  })

/** The member's Iroh node as it answered over its tunnel, if it has one and answered in time. */
const askIroh = (peer: Peer, protocol: string, id: string, timeout: Duration.Input) =>
  peer.request(protocol, new Uint8Array(0), { maxResponseBytes: MAX_ADDRESS_BYTES }).pipe(
    Effect.timeoutOption(timeout),
    Effect.map((reply) =>
      Option.flatMap(reply, (bytes) =>
        Option.flatMap(
          Result.getSuccess(Schema.decodeUnknownResult(IrohAddressJson)(utf8Decoder.decode(bytes))),
          (answer) =>
            answer.node === null
              ? Option.none()
              : Option.some<IrohSource>({
                  _tag: "IrohSource",
                  id: `iroh:${id}`,
                  nodeId: answer.node.nodeId,
                  addresses: answer.node.addresses,
                }),
        ),
      ),
    ),
    Effect.catchCause((cause) =>
      Effect.as(
        Effect.logDebug("data-repo: no Iroh address over the tunnel", cause),
        Option.none<IrohSource>(),
      ),
    ),
  )

export interface FindOptions {
  /** How long a member may take to tell its Iroh address (default 5 s). */
  readonly askTimeout?: Duration.Input
}

/**
 * The sources behind published routes: for each, its Iroh node (if it tells one) and the
 * tunnel itself. Every byte they send is verified against its hash by the store.
 */
export const sourcesOf = (
  tunnels: TunnelsShape,
  groupKey: string,
  key: Parameters<TunnelsShape["connect"]>[1],
  routes: ReadonlyArray<{ readonly id: string; readonly route: Uint8Array }>,
  options: FindOptions = {},
): Effect.Effect<ReadonlyArray<Source>> => {
  const protocols = groupProtocols(groupKey)
  return Effect.forEach(
    routes,
    ({ id, route }) =>
      tunnels.connect(route, key).pipe(
        Effect.flatMap((peer) =>
          Effect.map(
            askIroh(peer, protocols.iroh, id, options.askTimeout ?? Duration.seconds(5)),
            (iroh): ReadonlyArray<Source> => [
              ...Option.toArray(iroh),
              tunnelSource(peer, { id: `tunnel:${id}`, protocol: protocols.blobs }),
            ],
          ),
        ),
        // A route that does not import is no source; the others may still be.
        Effect.orElseSucceed((): ReadonlyArray<Source> => []),
      ),
    { concurrency: "unbounded" },
  ).pipe(Effect.map((found) => found.flat()))
}
