/**
 * The facade's view of Veilid data: camelCase, bytes as Uint8Array. Keys, route ids and
 * key pairs stay strings in veilid-core's text form (`VLD0:<base64url>`, a key pair is
 * `VLD0:<public>:<secret>`, a record key may carry `:<encryption key>`).
 */

/** A DHT record key, e.g. `VLD0:...` (with an optional `:<encryption key>` suffix). */
export type RecordKey = string
/** A typed public key, `VLD0:...`. */
export type PublicKey = string
/** A typed secret key, `VLD0:...`. */
export type SecretKey = string
/** A typed key pair, `VLD0:<public>:<secret>`. */
export type KeyPair = string
/** A private route id (local or imported). */
export type RouteId = string
/** A SMPL schema member id. */
export type MemberId = string
/** A crypto system, e.g. `VLD0`. */
export type CryptoKind = string
/** Microseconds since the Unix epoch, as veilid-core's decimal string. */
export type Timestamp = string

/** Inclusive subkey ranges, e.g. `[[0, 0], [2, 5]]`. */
export type SubkeyRanges = ReadonlyArray<readonly [number, number]>

export type DhtSchema =
  | { readonly kind: "DFLT"; readonly oCnt: number }
  | {
      readonly kind: "SMPL"
      readonly oCnt: number
      readonly members: ReadonlyArray<{ readonly mKey: string; readonly mCnt: number }>
    }

export interface DhtRecordDescriptor {
  readonly key: RecordKey
  readonly owner: PublicKey
  /** Present when this node holds the owner's secret (it created the record, or opened it with the owner key pair). */
  readonly ownerSecret: SecretKey | undefined
  readonly schema: DhtSchema
}

export interface ValueData {
  /** Sequence number of this subkey value; increases with every write. */
  readonly seq: number
  readonly data: Uint8Array
  readonly writer: PublicKey
}

export interface DhtRecordReport {
  readonly subkeys: SubkeyRanges
  readonly offlineSubkeys: SubkeyRanges
  /** Per subkey in `subkeys`: the local sequence number, or null when not held locally. */
  readonly localSeqs: ReadonlyArray<number | null>
  /** Per subkey in `subkeys`: the network's sequence number (when the scope asked the network). */
  readonly networkSeqs: ReadonlyArray<number | null>
}

/** How `inspect` gathers sequence numbers (veilid-core `DHTReportScope`). */
export type DhtReportScope = "Local" | "SyncGet" | "SyncSet" | "UpdateGet" | "UpdateSet"

export interface RouteBlob {
  readonly routeId: RouteId
  /** Publish this; a peer imports it with `importRemotePrivateRoute`. */
  readonly blob: Uint8Array
}

export type Stability = "LowLatency" | "Reliable"
export type Sequencing = "PreferUnordered" | "PreferOrdered" | "EnsureOrdered"

/**
 * Safety for a routing context. Always "safe" (a safety route hides the sender); this
 * facade never offers unsafe routing.
 */
export interface SafetyOptions {
  /** Hops of the safety route; veilid-core's default is `network.rpc.default_route_hop_count`. */
  readonly hopCount?: number
  readonly stability?: Stability
  readonly sequencing?: Sequencing
  /** Use this private route of ours as the safety route. */
  readonly preferredRoute?: RouteId
}

export interface PrivateRouteOptions {
  readonly hopCount?: number
  readonly stability?: Stability
  readonly sequencing?: Sequencing
  readonly cryptoKinds?: ReadonlyArray<CryptoKind>
}

export type AttachmentState =
  | "Detached"
  | "Detaching"
  | "Attaching"
  | "AttachedWeak"
  | "AttachedFair"
  | "AttachedGood"
  | "AttachedStrong"
  | "AttachedFull"

export interface Attachment {
  readonly state: AttachmentState
  /** Ready for DHT operations and private routes. */
  readonly publicInternetReady: boolean
  readonly localNetworkReady: boolean
}

/** Every `VeilidUpdate`, tagged by `_tag` (veilid-core's `kind`). */
export type VeilidUpdate =
  | {
      readonly _tag: "AppMessage"
      /** Only set for messages sent to us without a private route (never, without footgun). */
      readonly sender: string | undefined
      /** Our private route the message arrived on. */
      readonly routeId: RouteId | undefined
      readonly message: Uint8Array
    }
  | {
      readonly _tag: "AppCall"
      readonly sender: string | undefined
      readonly routeId: RouteId | undefined
      readonly message: Uint8Array
      /** Pass to `appCallReply`. */
      readonly callId: string
    }
  | ({ readonly _tag: "Attachment" } & Attachment)
  | {
      readonly _tag: "Network"
      readonly started: boolean
      readonly bpsDown: string
      readonly bpsUp: string
      readonly peerCount: number
      readonly nodeIds: ReadonlyArray<string>
    }
  | {
      readonly _tag: "RouteChange"
      /** Our own private routes that died: allocate and publish new ones. */
      readonly deadRoutes: ReadonlyArray<RouteId>
      /** Imported routes that died: re-import the peer's current blob. */
      readonly deadRemoteRoutes: ReadonlyArray<RouteId>
    }
  | {
      readonly _tag: "ValueChange"
      readonly key: RecordKey
      readonly subkeys: SubkeyRanges
      /** Remaining change notifications of the watch (0: the watch ended). */
      readonly count: number
      readonly value: ValueData | undefined
    }
  | { readonly _tag: "Config"; readonly config: unknown }
  | {
      readonly _tag: "Log"
      readonly level: "Error" | "Warn" | "Info" | "Debug" | "Trace"
      readonly message: string
    }
  | { readonly _tag: "Shutdown" }
