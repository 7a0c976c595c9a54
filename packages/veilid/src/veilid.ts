import {
  Context,
  Duration,
  Effect,
  Layer,
  Option,
  PubSub,
  Result,
  Schema,
  type Scope,
  Stream,
} from "effect"
import type { VeilidConfig } from "./config.ts"
import { fromNativeRejection, type VeilidError, VeilidTimeout } from "./errors.ts"
import { checkLength, MAX_APP_MESSAGE_BYTES, MAX_SUBKEY_BYTES } from "./limits.ts"
import { loadNative, type NativeNode } from "./native.ts"
import type {
  Attachment,
  CryptoKind,
  DhtRecordDescriptor,
  DhtRecordReport,
  DhtReportScope,
  DhtSchema,
  KeyPair,
  MemberId,
  PrivateRouteOptions,
  PublicKey,
  RecordKey,
  RouteBlob,
  RouteId,
  SafetyOptions,
  SubkeyRanges,
  Timestamp,
  ValueData,
  VeilidUpdate,
} from "./types.ts"
import {
  AttachmentWire,
  asBuffer,
  DhtRecordDescriptorWire,
  DhtRecordReportWire,
  decodeResponse,
  decodeUpdate,
  decodeValue,
  encodeRequest,
  fromDhtSchema,
  plainBytes,
  type RequestOp,
  RouteBlobWire,
  responsePathOf,
  toBase64Url,
  toDescriptor,
  toReport,
  toRouteBlob,
  toValueData,
  ValueDataWire,
} from "./wire.ts"

/** Sending messages and using the DHT, through one routing context (always with a safety route). */
export interface RoutingContext {
  /**
   * Request/response to a peer's private route; at most `MAX_APP_MESSAGE_BYTES` (32,768)
   * each way. A longer message fails with `VeilidInvalidArgument` without being sent.
   */
  readonly appCall: (target: RouteId, message: Uint8Array) => Effect.Effect<Uint8Array, VeilidError>
  /** One-way message to a peer's private route; at most `MAX_APP_MESSAGE_BYTES` (32,768). */
  readonly appMessage: (target: RouteId, message: Uint8Array) => Effect.Effect<void, VeilidError>
  /** Creates (and opens) a record; this node becomes its owner unless `owner` is given. */
  readonly dhtCreate: (
    schema: DhtSchema,
    options?: { readonly owner?: KeyPair; readonly kind?: CryptoKind },
  ) => Effect.Effect<DhtRecordDescriptor, VeilidError>
  /** Opens a record; with `writer`, subkeys that key pair may write become writable. */
  readonly dhtOpen: (
    key: RecordKey,
    options?: { readonly writer?: KeyPair },
  ) => Effect.Effect<DhtRecordDescriptor, VeilidError>
  readonly dhtClose: (key: RecordKey) => Effect.Effect<void, VeilidError>
  /** Deletes the local copy (the network forgets it when it expires). */
  readonly dhtDelete: (key: RecordKey) => Effect.Effect<void, VeilidError>
  /** A subkey's value; `None` when it was never written. */
  readonly dhtGet: (
    key: RecordKey,
    subkey: number,
    options?: { readonly forceRefresh?: boolean },
  ) => Effect.Effect<Option.Option<ValueData>, VeilidError>
  /**
   * Writes a subkey (at most `MAX_SUBKEY_BYTES`, 32,768). `Some(newer)` when the network
   * already held a newer value, which then was not overwritten.
   */
  readonly dhtSet: (
    key: RecordKey,
    subkey: number,
    data: Uint8Array,
    options?: { readonly writer?: KeyPair; readonly allowOffline?: boolean },
  ) => Effect.Effect<Option.Option<ValueData>, VeilidError>
  /** Watches subkeys (all by default); changes arrive as `ValueChange` updates. */
  readonly dhtWatch: (
    key: RecordKey,
    options?: {
      readonly subkeys?: SubkeyRanges
      readonly expiration?: Timestamp
      readonly count?: number
    },
  ) => Effect.Effect<boolean, VeilidError>
  readonly dhtCancelWatch: (
    key: RecordKey,
    subkeys?: SubkeyRanges,
  ) => Effect.Effect<boolean, VeilidError>
  readonly dhtInspect: (
    key: RecordKey,
    options?: { readonly subkeys?: SubkeyRanges; readonly scope?: DhtReportScope },
  ) => Effect.Effect<DhtRecordReport, VeilidError>
}

/** A table store database, opened for the scope's lifetime. Keys and values are bytes. */
export interface TableDb {
  readonly keys: (column: number) => Effect.Effect<ReadonlyArray<Uint8Array>, VeilidError>
  readonly load: (
    column: number,
    key: Uint8Array,
  ) => Effect.Effect<Option.Option<Uint8Array>, VeilidError>
  readonly store: (
    column: number,
    key: Uint8Array,
    value: Uint8Array,
  ) => Effect.Effect<void, VeilidError>
  /** Deletes a key; returns the value it had. */
  readonly delete: (
    column: number,
    key: Uint8Array,
  ) => Effect.Effect<Option.Option<Uint8Array>, VeilidError>
}

export interface VeilidShape extends RoutingContext {
  /** The config the node was started with. */
  readonly config: VeilidConfig
  /** Every update published after the stream starts running; each run gets its own copy. */
  readonly updates: Stream.Stream<VeilidUpdate>
  /**
   * Subscribes at once and returns the updates as a stream: nothing published after this
   * effect completes is missed (subscribe, then act, then read). Ends with the scope.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<VeilidUpdate>, never, Scope.Scope>
  readonly attach: Effect.Effect<void, VeilidError>
  readonly detach: Effect.Effect<void, VeilidError>
  /** Waits until attached with public_internet_ready (DHT and private routes usable). */
  readonly waitForReady: (timeout: Duration.Input) => Effect.Effect<Attachment, VeilidError>
  readonly attachment: Effect.Effect<Attachment, VeilidError>
  /** This node's ids (one per crypto kind); empty until the network starts (attach). */
  readonly nodeIds: Effect.Effect<ReadonlyArray<PublicKey>, VeilidError>
  /** Another routing context with other safety settings, released with the scope. */
  readonly routingContext: (
    safety: SafetyOptions,
  ) => Effect.Effect<RoutingContext, VeilidError, Scope.Scope>
  readonly newPrivateRoute: (options?: PrivateRouteOptions) => Effect.Effect<RouteBlob, VeilidError>
  /** A private route of ours, released with the scope. */
  readonly privateRoute: (
    options?: PrivateRouteOptions,
  ) => Effect.Effect<RouteBlob, VeilidError, Scope.Scope>
  readonly importRemotePrivateRoute: (blob: Uint8Array) => Effect.Effect<RouteId, VeilidError>
  readonly releasePrivateRoute: (routeId: RouteId) => Effect.Effect<void, VeilidError>
  /** Answers an `AppCall` update (at most `MAX_APP_MESSAGE_BYTES`, 32,768). */
  readonly appCallReply: (callId: string, message: Uint8Array) => Effect.Effect<void, VeilidError>
  readonly openTableDb: (
    name: string,
    columnCount: number,
  ) => Effect.Effect<TableDb, VeilidError, Scope.Scope>
  readonly deleteTableDb: (name: string) => Effect.Effect<boolean, VeilidError>
  readonly generateKeyPair: (kind?: CryptoKind) => Effect.Effect<KeyPair, VeilidError>
  /** The member id of a writer key, for SMPL schemas. */
  readonly generateMemberId: (writerKey: PublicKey) => Effect.Effect<MemberId, VeilidError>
  /** veilid-core's debug command line (e.g. `"peers"`, `"entries"`). */
  readonly debug: (command: string) => Effect.Effect<string, VeilidError>
}

export interface VeilidLayerOptions {
  /** Attach and wait for readiness (default). `false` starts detached: table store, crypto. */
  readonly attach?: boolean
  /** Deadline for public_internet_ready after attaching (default 60 s). */
  readonly readyTimeout?: Duration.Input
}

type AttachmentUpdate = Extract<VeilidUpdate, { readonly _tag: "Attachment" }>

const defaultCryptoKind = "VLD0"
const defaultReadyTimeout = Duration.seconds(60)

const Str = Schema.String
const Bool = Schema.Boolean
const Num = Schema.Number
const NullableBytes = Schema.NullOr(Schema.Uint8ArrayFromBase64Url)
const NullableValueData = Schema.NullOr(ValueDataWire)
const StateWire = Schema.Struct({
  attachment: AttachmentWire,
  network: Schema.Struct({ node_ids: Schema.Array(Str) }),
})

const toAttachment = (a: typeof AttachmentWire.Type): Attachment => ({
  state: a.state,
  publicInternetReady: a.public_internet_ready,
  localNetworkReady: a.local_network_ready,
})

const make = Effect.fnUntraced(function* (config: VeilidConfig, options: VeilidLayerOptions = {}) {
  const native = yield* loadNative
  const updates = yield* PubSub.unbounded<VeilidUpdate>()
  const context = yield* Effect.context<never>()
  const runFork = Effect.runForkWith(context)

  const onUpdate = (json: string, message?: Buffer | null) => {
    const decoded = decodeUpdate(json, message ?? undefined)
    if (Result.isSuccess(decoded)) PubSub.publishUnsafe(updates, decoded.success)
    else runFork(Effect.logWarning(decoded.failure.message))
  }

  const node: NativeNode = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () => native.VeilidNode.start(JSON.stringify(config), onUpdate),
      catch: fromNativeRejection,
    }),
    (node) =>
      Effect.tryPromise({ try: () => node.shutdown(), catch: fromNativeRejection }).pipe(
        Effect.catchCause((cause) => Effect.logWarning("veilid shutdown failed", cause)),
        Effect.andThen(PubSub.shutdown(updates)),
      ),
  )

  let nextId = 1
  const call = (op: RequestOp): Effect.Effect<unknown, VeilidError> =>
    Effect.tryPromise({
      try: () => node.request(encodeRequest(nextId++, op)),
      catch: fromNativeRejection,
    }).pipe(Effect.flatMap((json) => Effect.fromResult(decodeResponse(json, responsePathOf(op)))))

  // The ops that carry bytes pass them beside the JSON (no base64): `message` in, an
  // AppCall's answer out.
  const callBytes = (op: RequestOp, message: Uint8Array): Effect.Effect<Uint8Array, VeilidError> =>
    Effect.tryPromise({
      try: () =>
        node.requestBytes(encodeRequest(nextId++, { ...op, message: "" }), asBuffer(message)),
      catch: fromNativeRejection,
    }).pipe(
      Effect.flatMap((answer) =>
        Effect.fromResult(
          Result.map(decodeResponse(answer.json, responsePathOf(op)), () =>
            answer.message === undefined ? new Uint8Array(0) : plainBytes(answer.message),
          ),
        ),
      ),
    )

  const callAs = <S extends Schema.Decoder<unknown>>(op: RequestOp, schema: S) =>
    Effect.flatMap(call(op), decodeValue(schema, op.op))

  const hopCount = config.network.rpc.default_route_hop_count

  const routingContextApi = (rcId: number): RoutingContext => {
    const rc = (rcOp: string, fields: Record<string, unknown> = {}): RequestOp => ({
      op: "RoutingContext",
      rc_id: rcId,
      rc_op: rcOp,
      ...fields,
    })
    return {
      appCall: Effect.fn("Veilid.appCall")(function* (target: RouteId, message: Uint8Array) {
        yield* checkLength("appCall", "message", message, MAX_APP_MESSAGE_BYTES)
        return yield* callBytes(rc("AppCall", { target: { RouteId: target } }), message)
      }),
      appMessage: Effect.fn("Veilid.appMessage")(function* (target: RouteId, message: Uint8Array) {
        yield* checkLength("appMessage", "message", message, MAX_APP_MESSAGE_BYTES)
        yield* callBytes(rc("AppMessage", { target: { RouteId: target } }), message)
      }),
      dhtCreate: Effect.fn("Veilid.dhtCreate")(function* (
        schema: DhtSchema,
        opts?: { readonly owner?: KeyPair; readonly kind?: CryptoKind },
      ) {
        const d = yield* callAs(
          rc("CreateDhtRecord", {
            kind: opts?.kind ?? defaultCryptoKind,
            schema: fromDhtSchema(schema),
            owner: opts?.owner ?? null,
          }),
          DhtRecordDescriptorWire,
        )
        return toDescriptor(d)
      }),
      dhtOpen: Effect.fn("Veilid.dhtOpen")(function* (
        key: RecordKey,
        opts?: { readonly writer?: KeyPair },
      ) {
        const d = yield* callAs(
          rc("OpenDhtRecord", { key, writer: opts?.writer ?? null, options: null }),
          DhtRecordDescriptorWire,
        )
        return toDescriptor(d)
      }),
      dhtClose: Effect.fn("Veilid.dhtClose")(function* (key: RecordKey) {
        yield* call(rc("CloseDhtRecord", { key }))
      }),
      dhtDelete: Effect.fn("Veilid.dhtDelete")(function* (key: RecordKey) {
        yield* call(rc("DeleteDhtRecord", { key }))
      }),
      dhtGet: Effect.fn("Veilid.dhtGet")(function* (
        key: RecordKey,
        subkey: number,
        opts?: { readonly forceRefresh?: boolean },
      ) {
        const v = yield* callAs(
          rc("GetDhtValue", { key, subkey, force_refresh: opts?.forceRefresh ?? false }),
          NullableValueData,
        )
        return Option.map(Option.fromNullishOr(v), toValueData)
      }),
      dhtSet: Effect.fn("Veilid.dhtSet")(function* (
        key: RecordKey,
        subkey: number,
        data: Uint8Array,
        opts?: { readonly writer?: KeyPair; readonly allowOffline?: boolean },
      ) {
        yield* checkLength("dhtSet", "data", data, MAX_SUBKEY_BYTES)
        const options =
          opts?.writer === undefined && opts?.allowOffline === undefined
            ? null
            : {
                writer: opts.writer ?? null,
                allow_offline: opts.allowOffline ?? null,
                min_seqnum: null,
              }
        const v = yield* callAs(
          rc("SetDhtValue", { key, subkey, data: toBase64Url(data), options }),
          NullableValueData,
        )
        return Option.map(Option.fromNullishOr(v), toValueData)
      }),
      dhtWatch: Effect.fn("Veilid.dhtWatch")(function* (
        key: RecordKey,
        opts?: {
          readonly subkeys?: SubkeyRanges
          readonly expiration?: Timestamp
          readonly count?: number
        },
      ) {
        return yield* callAs(
          rc("WatchDhtValues", {
            key,
            subkeys: opts?.subkeys ?? null,
            expiration: opts?.expiration ?? null,
            count: opts?.count ?? null,
          }),
          Bool,
        )
      }),
      dhtCancelWatch: Effect.fn("Veilid.dhtCancelWatch")(function* (
        key: RecordKey,
        subkeys?: SubkeyRanges,
      ) {
        return yield* callAs(rc("CancelDhtWatch", { key, subkeys: subkeys ?? null }), Bool)
      }),
      dhtInspect: Effect.fn("Veilid.dhtInspect")(function* (
        key: RecordKey,
        opts?: { readonly subkeys?: SubkeyRanges; readonly scope?: DhtReportScope },
      ) {
        const r = yield* callAs(
          rc("InspectDhtRecord", {
            key,
            subkeys: opts?.subkeys ?? null,
            scope: opts?.scope ?? "Local",
          }),
          DhtRecordReportWire,
        )
        return toReport(r)
      }),
    }
  }

  const releaseRoutingContext = (rcId: number) =>
    call({ op: "RoutingContext", rc_id: rcId, rc_op: "Release" }).pipe(Effect.ignore)

  const newRoutingContext = (safety: SafetyOptions | undefined) =>
    Effect.acquireRelease(
      Effect.gen(function* () {
        const base = yield* callAs({ op: "NewRoutingContext" }, Num)
        if (safety === undefined) return base
        // WithSafety answers with a new handle; the base one is no longer needed.
        const safe = yield* callAs(
          {
            op: "RoutingContext",
            rc_id: base,
            rc_op: "WithSafety",
            safety_selection: {
              Safe: {
                preferred_route: safety.preferredRoute ?? null,
                hop_count: safety.hopCount ?? hopCount,
                stability: safety.stability ?? "Reliable",
                sequencing: safety.sequencing ?? "PreferOrdered",
              },
            },
          },
          Num,
        ).pipe(Effect.ensuring(releaseRoutingContext(base)))
        return safe
      }),
      releaseRoutingContext,
    )

  const getState = callAs({ op: "GetState" }, StateWire)

  const waitForReady = Effect.fn("Veilid.waitForReady")(function* (timeout: Duration.Input) {
    const millis = Duration.toMillis(timeout)
    const a = yield* callAs(
      { op: "WaitForAttachmentCondition", condition: null, timeout_ms: millis },
      AttachmentWire,
    ).pipe(
      Effect.catchTag("VeilidTimeout", () =>
        Effect.fail(
          new VeilidTimeout({
            message: `Timeout: not attached with public_internet_ready within ${millis} ms`,
          }),
        ),
      ),
    )
    return toAttachment(a)
  })

  const attach = Effect.fn("Veilid.attach")(function* () {
    yield* call({ op: "Attach" })
  })
  const detach = Effect.fn("Veilid.detach")(function* () {
    yield* call({ op: "Detach" })
  })

  const newPrivateRoute = Effect.fn("Veilid.newPrivateRoute")(function* (
    opts?: PrivateRouteOptions,
  ) {
    const blob = yield* callAs(
      opts === undefined
        ? { op: "NewPrivateRoute" }
        : {
            op: "NewCustomPrivateRoute",
            private_spec: {
              crypto_kinds: opts.cryptoKinds ?? [],
              hop_count: opts.hopCount ?? hopCount,
              stability: opts.stability ?? "Reliable",
              sequencing: opts.sequencing ?? "PreferOrdered",
            },
          },
      RouteBlobWire,
    )
    return toRouteBlob(blob)
  })

  const releasePrivateRoute = Effect.fn("Veilid.releasePrivateRoute")(function* (routeId: RouteId) {
    yield* call({ op: "ReleasePrivateRoute", route_id: routeId })
  })

  const openTableDb = Effect.fn("Veilid.openTableDb")(function* (
    name: string,
    columnCount: number,
  ) {
    const dbId = yield* Effect.acquireRelease(
      callAs({ op: "OpenTableDb", name, column_count: columnCount }, Num),
      (dbId) => call({ op: "TableDb", db_id: dbId, db_op: "Release" }).pipe(Effect.ignore),
    )
    const db = (dbOp: string, fields: Record<string, unknown>): RequestOp => ({
      op: "TableDb",
      db_id: dbId,
      db_op: dbOp,
      ...fields,
    })
    const table: TableDb = {
      keys: Effect.fn("Veilid.tableKeys")(function* (column: number) {
        return yield* callAs(
          db("GetKeys", { col: column }),
          Schema.Array(Schema.Uint8ArrayFromBase64Url),
        )
      }),
      load: Effect.fn("Veilid.tableLoad")(function* (column: number, key: Uint8Array) {
        const v = yield* callAs(db("Load", { col: column, key: toBase64Url(key) }), NullableBytes)
        return Option.fromNullishOr(v)
      }),
      store: Effect.fn("Veilid.tableStore")(function* (
        column: number,
        key: Uint8Array,
        value: Uint8Array,
      ) {
        yield* call(db("Store", { col: column, key: toBase64Url(key), value: toBase64Url(value) }))
      }),
      delete: Effect.fn("Veilid.tableDelete")(function* (column: number, key: Uint8Array) {
        const v = yield* callAs(db("Delete", { col: column, key: toBase64Url(key) }), NullableBytes)
        return Option.fromNullishOr(v)
      }),
    }
    return table
  })

  const defaultRc = yield* newRoutingContext(undefined)

  const service: VeilidShape = {
    ...routingContextApi(defaultRc),
    config,
    updates: Stream.fromPubSub(updates),
    subscribe: Effect.map(PubSub.subscribe(updates), Stream.fromSubscription),
    attach: attach(),
    detach: detach(),
    waitForReady,
    attachment: Effect.map(getState, (s) => toAttachment(s.attachment)),
    nodeIds: Effect.map(getState, (s) => s.network.node_ids),
    routingContext: (safety) => Effect.map(newRoutingContext(safety), routingContextApi),
    newPrivateRoute,
    privateRoute: (opts) =>
      Effect.acquireRelease(newPrivateRoute(opts), (route) =>
        releasePrivateRoute(route.routeId).pipe(Effect.ignore),
      ),
    importRemotePrivateRoute: Effect.fn("Veilid.importRemotePrivateRoute")(function* (
      blob: Uint8Array,
    ) {
      return yield* callAs({ op: "ImportRemotePrivateRoute", blob: toBase64Url(blob) }, Str)
    }),
    releasePrivateRoute,
    appCallReply: Effect.fn("Veilid.appCallReply")(function* (callId: string, message: Uint8Array) {
      yield* checkLength("appCallReply", "message", message, MAX_APP_MESSAGE_BYTES)
      yield* callBytes({ op: "AppCallReply", call_id: callId }, message)
    }),
    openTableDb,
    deleteTableDb: Effect.fn("Veilid.deleteTableDb")(function* (name: string) {
      return yield* callAs({ op: "DeleteTableDb", name }, Bool)
    }),
    generateKeyPair: Effect.fn("Veilid.generateKeyPair")(function* (kind?: CryptoKind) {
      return yield* callAs({ op: "GenerateKeyPair", kind: kind ?? defaultCryptoKind }, Str)
    }),
    generateMemberId: Effect.fn("Veilid.generateMemberId")(function* (writerKey: PublicKey) {
      return yield* callAs({ op: "GenerateMemberId", writer_key: writerKey }, Str)
    }),
    debug: Effect.fn("Veilid.debug")(function* (command: string) {
      return yield* callAs({ op: "Debug", command }, Str)
    }),
  }

  if (options.attach ?? true) {
    // Attaching can take from seconds to minutes; each change of state is logged so a slow
    // or stuck start shows where it stands.
    const started = Date.now()
    yield* Effect.scoped(
      Effect.gen(function* () {
        yield* (yield* service.subscribe).pipe(
          Stream.filter((u): u is AttachmentUpdate => u._tag === "Attachment"),
          Stream.changesWith(
            (a, b) => a.state === b.state && a.publicInternetReady === b.publicInternetReady,
          ),
          Stream.runForEach((a) =>
            Effect.logInfo("veilid attachment").pipe(
              Effect.annotateLogs({
                state: a.state,
                publicInternetReady: a.publicInternetReady,
                afterMillis: Date.now() - started,
              }),
            ),
          ),
          Effect.forkScoped,
        )
        yield* service.attach
        yield* service.waitForReady(options.readyTimeout ?? defaultReadyTimeout)
      }),
    )
  }
  return service
})

/**
 * One Veilid node. `Veilid.layer(config)` starts it, attaches and waits (with a deadline)
 * until it is ready for DHT and private routes; closing the layer's scope detaches and
 * shuts it down.
 */
export class Veilid extends Context.Service<Veilid, VeilidShape>()("@save-dweb/veilid/Veilid") {
  static readonly layer = (
    config: VeilidConfig,
    options?: VeilidLayerOptions,
  ): Layer.Layer<Veilid, VeilidError> => Layer.effect(Veilid, make(config, options))
}

/** Starts a node in the current scope without a layer (several nodes in one program). */
export const makeVeilid = (
  config: VeilidConfig,
  options?: VeilidLayerOptions,
): Effect.Effect<VeilidShape, VeilidError, Scope.Scope> => make(config, options)

/**
 * Opt-in: veilid-core's logs become `Log` updates of every node in this process, filtered
 * by veilid log directives (e.g. `"#common=info"`). Installs the process's one global
 * tracing subscriber on first use; later calls apply further directives.
 */
export const enableLogging = Effect.fn("Veilid.enableLogging")(function* (directives: string) {
  const native = yield* loadNative
  yield* Effect.try({ try: () => native.enableLogging(directives), catch: fromNativeRejection })
})
