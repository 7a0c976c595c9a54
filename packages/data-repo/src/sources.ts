// Where a repo's blobs can be fetched from, found without the caller's help: every member
// that publishes a route serves its store on it (blob-store's tunnel protocol, behind the
// group's tunnel-auth key, which every tier holds). In a `direct` group it also answers
// "where is your Iroh node" on a second protocol, behind the group's address key, which
// only the read tier and up hold (replicate links, so backup servers, do not). In a
// `private` group no Iroh address is asked for or given: every byte comes over tunnels.
// The Iroh address thus travels only inside a tunnel, to members who may ask for it.
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
import type { SecretKey } from "@save-dweb/crypto"
import type { Group } from "@save-dweb/group"
import { type Handler, type Peer, requestHandler, type TunnelsShape } from "@save-dweb/tunnels"
import { Data, Duration, Effect, Option, Result, Schema, type Scope } from "effect"

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
    // Version 2: asked with the address key (version 1 took the tunnel-auth key).
    iroh: `save-dweb/data-repo/iroh/2/${id}`,
    /** An empty answer to any holder of the tunnel-auth key: a round trip (backend's `ping`). */
    ping: `save-dweb/data-repo/ping/1/${id}`,
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

/** The answer of a member asked for its Iroh address in a group that is not `direct`. */
export class AddressRefused extends Data.TaggedError("AddressRefused")<{
  readonly message: string
}> {}

/**
 * The address key to ask `group`'s members with, if they may be asked now: the group is
 * `direct` and this participant holds the read tier. A group whose info cannot be read
 * counts as private: nothing is asked that might not be allowed.
 */
export const addressKeyFor = (group: Group): Effect.Effect<Option.Option<SecretKey>> =>
  Effect.gen(function* () {
    const key = yield* Effect.option(group.addressKey)
    if (Option.isNone(key)) return key
    const info = yield* Effect.option(group.info)
    return Option.isSome(info) && info.value.transport === "direct" ? key : Option.none()
  })

/** Logged once per address told, so what a node gave away can be observed (tests do). */
export const TOLD_ADDRESS = "data-repo: told our Iroh address"
/** Logged once per address learned. */
export const LEARNED_ADDRESS = "data-repo: learned an Iroh address"

/**
 * Serves the blobs of `store` that `allow` admits on `tunnels` to holders of the group's
 * tunnel-auth key until the scope closes, and, to holders of its address key, the Iroh
 * address while the group is `direct` (asked in a `private` group, it refuses: the
 * setting is read at each request, so a change by the manager holds at once). A replicate
 * holder (a backup server) has no address key: it serves blobs only. `allow` keeps one
 * group's members from probing for another group's blobs on the same store: a refused
 * blob is answered as not found. A second handle of the same group on the same node finds
 * the protocols taken and leaves them to the first.
 */
export const serveMember = (
  tunnels: TunnelsShape,
  store: BlobStoreService,
  group: Group,
  allow: (hash: BlobHash) => Effect.Effect<boolean>,
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const protocols = groupProtocols(group.key)
    const serve =
      <E>(protocol: string, handler: Handler<E>, what: string) =>
      (keys: ReadonlyArray<SecretKey>) =>
        tunnels.serve(protocol, handler, { keys }).pipe(
          Effect.catchTag("ProtocolInUse", () =>
            Effect.logDebug(`data-repo: ${what} already served for this group on this node`),
          ),
          // The names are built here from a fixed prefix and 16 hex digits.
          Effect.catchTag("InvalidProtocolName", (e) => Effect.die(e)),
        )
    yield* serve(protocols.blobs, blobsHandler(store, allow), "blobs")([group.keys.tunnelAuth])
    yield* serve(
      protocols.ping,
      requestHandler(() => Effect.succeed(new Uint8Array(0))),
      "ping",
    )([group.keys.tunnelAuth])
    const addressKey = yield* Effect.option(group.addressKey)
    if (Option.isNone(addressKey)) return
    yield* serve(
      protocols.iroh,
      requestHandler(() =>
        Effect.gen(function* () {
          if (Option.isNone(yield* addressKeyFor(group))) {
            return yield* new AddressRefused({
              message: "this group is private: its members tell no Iroh address",
            })
          }
          const answer = yield* ownAddress(store)
          if (answer.node !== null) yield* Effect.logDebug(TOLD_ADDRESS)
          return utf8.encode(Schema.encodeSync(IrohAddressJson)(answer))
        }),
      ),
      "the Iroh address",
    )([addressKey.value])
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
              ? Option.none<IrohSource>()
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

/** The group's keys `sourcesOf` calls routes with. */
export interface SourceKeys {
  /** The tunnel-auth key: every tier's. */
  readonly tunnel: SecretKey
  /** The address key, only to ask in a `direct` group (`addressKeyFor`); none: never ask. */
  readonly address: Option.Option<SecretKey>
}

/**
 * The sources behind published routes: for each, the tunnel itself and, when `keys` has
 * an address key, its Iroh node (if it tells one). Every byte they send is verified
 * against its hash by the store.
 */
export const sourcesOf = (
  tunnels: TunnelsShape,
  groupKey: string,
  keys: SourceKeys,
  routes: ReadonlyArray<{ readonly id: string; readonly route: Uint8Array }>,
  options: FindOptions = {},
): Effect.Effect<ReadonlyArray<Source>> => {
  const protocols = groupProtocols(groupKey)
  const askTimeout = options.askTimeout ?? Duration.seconds(5)
  const irohOf = (route: Uint8Array, id: string) =>
    Option.match(keys.address, {
      onNone: () => Effect.succeedNone,
      onSome: (key) =>
        tunnels.connect(route, key).pipe(
          Effect.flatMap((peer) => askIroh(peer, protocols.iroh, id, askTimeout)),
          Effect.tap((iroh) =>
            Option.isSome(iroh) ? Effect.logDebug(LEARNED_ADDRESS) : Effect.void,
          ),
          Effect.orElseSucceed(() => Option.none<IrohSource>()),
        ),
    })
  return Effect.forEach(
    routes,
    ({ id, route }) =>
      tunnels.connect(route, keys.tunnel).pipe(
        Effect.flatMap((peer) =>
          Effect.map(
            irohOf(route, id),
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
