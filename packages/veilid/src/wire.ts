/**
 * veilid-remote-api's JSON, as veilid-core 0.5.8 writes it (snake_case, bytes base64url
 * without padding): schemas to decode it at the edge, and the mapping to the facade types.
 */
import { Effect, Result, Schema } from "effect"
import { bindingError, fromApiError, type VeilidError } from "./errors.ts"
import type {
  DhtRecordDescriptor,
  DhtRecordReport,
  DhtSchema,
  RouteBlob,
  SubkeyRanges,
  ValueData,
  VeilidUpdate,
} from "./types.ts"

const Bytes = Schema.Uint8ArrayFromBase64Url
const OptString = Schema.optionalKey(Schema.NullOr(Schema.String))
const SeqNum = Schema.NullOr(Schema.Number)

export const SubkeyRangesWire = Schema.Array(Schema.Tuple([Schema.Number, Schema.Number]))

export const DhtSchemaWire = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("DFLT"), o_cnt: Schema.Number }),
  Schema.Struct({
    kind: Schema.Literal("SMPL"),
    o_cnt: Schema.Number,
    members: Schema.Array(Schema.Struct({ m_key: Schema.String, m_cnt: Schema.Number })),
  }),
])

export const DhtRecordDescriptorWire = Schema.Struct({
  key: Schema.String,
  owner: Schema.String,
  owner_secret: OptString,
  schema: DhtSchemaWire,
})

export const ValueDataWire = Schema.Struct({
  seq: Schema.Number,
  data: Bytes,
  writer: Schema.String,
})

export const DhtRecordReportWire = Schema.Struct({
  subkeys: SubkeyRangesWire,
  offline_subkeys: SubkeyRangesWire,
  local_seqs: Schema.Array(SeqNum),
  network_seqs: Schema.Array(SeqNum),
})

export const RouteBlobWire = Schema.Struct({ route_id: Schema.String, blob: Bytes })

const AttachmentStateWire = Schema.Literals([
  "Detached",
  "Detaching",
  "Attaching",
  "AttachedWeak",
  "AttachedFair",
  "AttachedGood",
  "AttachedStrong",
  "AttachedFull",
])

export const AttachmentWire = Schema.Struct({
  state: AttachmentStateWire,
  public_internet_ready: Schema.Boolean,
  local_network_ready: Schema.Boolean,
})

export const UpdateWire = Schema.Union([
  Schema.Struct({
    kind: Schema.Literal("AppMessage"),
    sender: OptString,
    route_id: OptString,
    message: Bytes,
  }),
  Schema.Struct({
    kind: Schema.Literal("AppCall"),
    sender: OptString,
    route_id: OptString,
    message: Bytes,
    call_id: Schema.String,
  }),
  Schema.Struct({
    kind: Schema.Literal("Attachment"),
    state: AttachmentStateWire,
    public_internet_ready: Schema.Boolean,
    local_network_ready: Schema.Boolean,
  }),
  Schema.Struct({
    kind: Schema.Literal("Network"),
    started: Schema.Boolean,
    bps_down: Schema.String,
    bps_up: Schema.String,
    peers: Schema.Array(Schema.Unknown),
    node_ids: Schema.Array(Schema.String),
  }),
  Schema.Struct({
    kind: Schema.Literal("RouteChange"),
    dead_routes: Schema.Array(Schema.String),
    dead_remote_routes: Schema.Array(Schema.String),
  }),
  Schema.Struct({
    kind: Schema.Literal("ValueChange"),
    key: Schema.String,
    subkeys: SubkeyRangesWire,
    count: Schema.Number,
    value: Schema.optionalKey(Schema.NullOr(ValueDataWire)),
  }),
  Schema.Struct({ kind: Schema.Literal("Config"), config: Schema.Unknown }),
  Schema.Struct({
    kind: Schema.Literal("Log"),
    log_level: Schema.Literals(["Error", "Warn", "Info", "Debug", "Trace"]),
    message: Schema.String,
  }),
  Schema.Struct({ kind: Schema.Literal("Shutdown") }),
])

const ranges = (r: ReadonlyArray<readonly [number, number]>): SubkeyRanges => r

export const toDhtSchema = (s: typeof DhtSchemaWire.Type): DhtSchema =>
  s.kind === "DFLT"
    ? { kind: "DFLT", oCnt: s.o_cnt }
    : {
        kind: "SMPL",
        oCnt: s.o_cnt,
        members: s.members.map((m) => ({ mKey: m.m_key, mCnt: m.m_cnt })),
      }

export const fromDhtSchema = (s: DhtSchema): typeof DhtSchemaWire.Type =>
  s.kind === "DFLT"
    ? { kind: "DFLT", o_cnt: s.oCnt }
    : {
        kind: "SMPL",
        o_cnt: s.oCnt,
        members: s.members.map((m) => ({ m_key: m.mKey, m_cnt: m.mCnt })),
      }

export const toDescriptor = (d: typeof DhtRecordDescriptorWire.Type): DhtRecordDescriptor => ({
  key: d.key,
  owner: d.owner,
  ownerSecret: d.owner_secret ?? undefined,
  schema: toDhtSchema(d.schema),
})

export const toValueData = (v: typeof ValueDataWire.Type): ValueData => ({
  seq: v.seq,
  data: v.data,
  writer: v.writer,
})

export const toReport = (r: typeof DhtRecordReportWire.Type): DhtRecordReport => ({
  subkeys: ranges(r.subkeys),
  offlineSubkeys: ranges(r.offline_subkeys),
  localSeqs: r.local_seqs,
  networkSeqs: r.network_seqs,
})

export const toRouteBlob = (r: typeof RouteBlobWire.Type): RouteBlob => ({
  routeId: r.route_id,
  blob: r.blob,
})

export const toUpdate = (u: typeof UpdateWire.Type): VeilidUpdate => {
  switch (u.kind) {
    case "AppMessage":
      return {
        _tag: "AppMessage",
        sender: u.sender ?? undefined,
        routeId: u.route_id ?? undefined,
        message: u.message,
      }
    case "AppCall":
      return {
        _tag: "AppCall",
        sender: u.sender ?? undefined,
        routeId: u.route_id ?? undefined,
        message: u.message,
        callId: u.call_id,
      }
    case "Attachment":
      return {
        _tag: "Attachment",
        state: u.state,
        publicInternetReady: u.public_internet_ready,
        localNetworkReady: u.local_network_ready,
      }
    case "Network":
      return {
        _tag: "Network",
        started: u.started,
        bpsDown: u.bps_down,
        bpsUp: u.bps_up,
        peerCount: u.peers.length,
        nodeIds: u.node_ids,
      }
    case "RouteChange":
      return {
        _tag: "RouteChange",
        deadRoutes: u.dead_routes,
        deadRemoteRoutes: u.dead_remote_routes,
      }
    case "ValueChange":
      return {
        _tag: "ValueChange",
        key: u.key,
        subkeys: ranges(u.subkeys),
        count: u.count,
        value: u.value ? toValueData(u.value) : undefined,
      }
    case "Config":
      return { _tag: "Config", config: u.config }
    case "Log":
      return { _tag: "Log", level: u.log_level, message: u.message }
    case "Shutdown":
      return { _tag: "Shutdown" }
  }
}

const decodeUpdateWire = Schema.decodeUnknownResult(Schema.fromJsonString(UpdateWire))

/**
 * Decodes one update from the native callback: its JSON and, for `AppCall` and
 * `AppMessage`, the message's bytes, which the binding passes beside the JSON.
 */
export const decodeUpdate = (
  json: string,
  message?: Uint8Array,
): Result.Result<VeilidUpdate, VeilidError> =>
  Result.match(decodeUpdateWire(json), {
    onSuccess: (u) => {
      const update = toUpdate(u)
      return Result.succeed(
        message !== undefined && (update._tag === "AppCall" || update._tag === "AppMessage")
          ? { ...update, message: plainBytes(message) }
          : update,
      )
    },
    onFailure: (issue) => Result.fail(bindingError(`undecodable veilid update: ${issue}`)),
  })

/** A plain Uint8Array over the same bytes (no copy): what the facade hands out. */
export const plainBytes = (bytes: Uint8Array): Uint8Array =>
  Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes

/** A Buffer over the same bytes (no copy), as the binding takes them. */
export const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** Bytes to veilid-core's JSON form (base64url, no padding). */
export const toBase64Url = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url")

/** One veilid-remote-api request: `op` plus its fields, snake_case. */
export interface RequestOp {
  readonly op: string
  readonly [field: string]: unknown
}

/**
 * Where the answer sits in a response: top-level `op`, or nested under a handle
 * (`RoutingContext` → `rc_op`, `TableDb` → `db_op`).
 */
export type ResponsePath =
  | { readonly op: string }
  | { readonly op: string; readonly sub: "rc_op" | "db_op"; readonly name: string }

export const encodeRequest = (id: number, op: RequestOp): string => JSON.stringify({ id, ...op })

export const responsePathOf = (op: RequestOp): ResponsePath => {
  if (op.op === "RoutingContext") return { op: op.op, sub: "rc_op", name: String(op.rc_op) }
  if (op.op === "TableDb") return { op: op.op, sub: "db_op", name: String(op.db_op) }
  return { op: op.op }
}

/**
 * Checks a response against its request and returns its `value` (undefined for ops that
 * answer with nothing), or the mapped Veilid error.
 */
export const decodeResponse = (
  json: string,
  path: ResponsePath,
): Result.Result<unknown, VeilidError> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (cause) {
    return Result.fail(bindingError("veilid response is not JSON", cause))
  }
  if (typeof parsed !== "object" || parsed === null) {
    return Result.fail(bindingError(`unexpected veilid response: ${json}`))
  }
  let body = parsed as Record<string, unknown>
  if (body.op !== path.op) {
    return Result.fail(bindingError(`veilid answered ${String(body.op)} to ${path.op}`))
  }
  if ("sub" in path) {
    const answered = body[path.sub]
    if (answered === "InvalidId") {
      const handle = path.sub === "rc_op" ? "routing context" : "table db"
      return Result.fail(bindingError(`invalid ${handle} handle (released or never opened)`))
    }
    if (answered !== path.name) {
      return Result.fail(bindingError(`veilid answered ${String(answered)} to ${path.name}`))
    }
    body = parsed as Record<string, unknown>
  }
  if ("error" in body) return Result.fail(fromApiError(body.error))
  return Result.succeed(body.value)
}

/** Decodes a response `value` with `schema`; a mismatch is a binding error. */
export const decodeValue =
  <S extends Schema.Decoder<unknown>>(schema: S, what: string) =>
  (value: unknown): Effect.Effect<S["Type"], VeilidError> =>
    Schema.decodeUnknownEffect(schema)(value).pipe(
      Effect.mapError((issue) => bindingError(`unexpected ${what} from veilid: ${issue.message}`)),
    )
