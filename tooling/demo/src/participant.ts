// One person in the demo: a Veilid node of their own on the testnet, the DHT records and
// tunnels on it, and a persistent Iroh blob store in a temp directory. Everything lives in
// the scope that starts it.
import { lookup } from "node:dns/promises"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { BlobStore, type BlobStoreService, layer as blobStoreLayer } from "@save-dweb/blob-store"
import { type DhtRecordsShape, makeDhtRecords } from "@save-dweb/dht-records"
import { makeTunnels, type TunnelsShape } from "@save-dweb/tunnels"
import { decodeConfig, makeVeilid, Veilid, type VeilidShape } from "@save-dweb/veilid"
import type { Testnet } from "@save-dweb/veilid-testnet"
import { Context, Data, type Duration, Effect, Layer } from "effect"

export interface Participant {
  readonly name: string
  readonly veilid: VeilidShape
  readonly records: DhtRecordsShape
  readonly tunnels: TunnelsShape
  readonly store: BlobStoreService
  /** The Iroh store's directory (removed when the scope closes). */
  readonly storeDir: string
  /** The testnet addresses this participant's Veilid node and Iroh node use. */
  readonly addresses: { readonly ipv4: string; readonly ipv6: string | undefined }
}

export class ParticipantFailed extends Data.TaggedError("ParticipantFailed")<{
  readonly name: string
  readonly message: string
  readonly cause?: unknown
}> {}

export interface ParticipantOptions {
  /** How long the Veilid node may take to be ready for DHT and routes. */
  readonly readyTimeout: Duration.Input
}

const failed = (name: string, what: string) => (cause: unknown) =>
  new ParticipantFailed({
    name,
    message: `${name}: ${what}: ${
      typeof cause === "object" && cause !== null && "message" in cause
        ? String(cause.message)
        : String(cause)
    }`,
    cause,
  })

/**
 * The addresses the testnet gave the node: its listen address is a name in the testnet's
 * DNS zone that resolves to one IPv4 and one IPv6 address of its own.
 */
const testnetAddresses = (config: unknown) =>
  Effect.tryPromise(async () => {
    const listen = (config as { network: { protocol: { udp: { listen_address: string } } } })
      .network.protocol.udp.listen_address
    const host = listen.slice(0, listen.lastIndexOf(":"))
    const found = await lookup(host, { all: true })
    const ipv4 = found.find((a) => a.family === 4)?.address
    if (ipv4 === undefined) throw new Error(`${host} has no IPv4 address`)
    return { ipv4, ipv6: found.find((a) => a.family === 6)?.address }
  })

const tempDir = (name: string) =>
  Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), `save-dweb-demo-${name}-`))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
  )

/** Starts a participant on the testnet for the current scope. */
export const startParticipant = (testnet: Testnet, name: string, options: ParticipantOptions) =>
  Effect.gen(function* () {
    const json = testnet.nodeConfig(name)
    const addresses = yield* testnetAddresses(json).pipe(
      Effect.mapError(failed(name, "testnet address")),
    )
    const config = yield* decodeConfig(json)
    const veilid = yield* makeVeilid(config, { readyTimeout: options.readyTimeout })
    const records = yield* makeDhtRecords(veilid)
    // Dead-peer memory short: a peer that timed out under load is tried again soon.
    const tunnels = yield* makeTunnels({
      deadPeerTtl: "2 seconds",
      routeTimeout: options.readyTimeout,
    }).pipe(Effect.provideService(Veilid, veilid))
    const storeDir = yield* tempDir(name)
    // Iroh listens on the participant's own testnet addresses, as it would on a host's
    // interfaces; no discovery, no relay reachable: direct addresses only.
    const storeContext = yield* Layer.build(
      blobStoreLayer({
        dir: storeDir,
        ipv4Addr: `${addresses.ipv4}:0`,
        ...(addresses.ipv6 === undefined ? {} : { ipv6Addr: `[${addresses.ipv6}]:0` }),
      }),
    )
    const participant: Participant = {
      name,
      veilid,
      records,
      tunnels,
      store: Context.get(storeContext, BlobStore),
      storeDir,
      addresses,
    }
    return participant
  }).pipe(
    Effect.mapError((error) =>
      error instanceof ParticipantFailed ? error : failed(name, "start")(error),
    ),
  )
