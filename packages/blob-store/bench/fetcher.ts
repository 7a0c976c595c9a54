// One measurement in a fresh process (so its peak RSS is its own): fetch a
// blob or collection through blob-store, or through plain @number0/iroh.
import * as path from "node:path"
import {
  BlobDownloadOptions,
  type BlobFormat,
  Iroh,
  type NodeDiscoveryConfig,
  type ReadAtLenType,
  SetTagOption,
} from "@number0/iroh"
import { Stream } from "effect"
import type { FetchRequest, IrohSource } from "../src/index.ts"
import { MiB, openStore, peakRssMiB, reply } from "./common.ts"

interface Job {
  readonly mode: "store" | "plain"
  readonly dir: string
  readonly request: FetchRequest
  /** Also time reading the fetched blob back (store mode, blobs only). */
  readonly read?: boolean
}

const job = JSON.parse(process.argv[2] ?? "{}") as Job

if (job.mode === "store") {
  const { store, run, close } = await openStore(path.join(job.dir, "store"))
  const started = performance.now()
  const result = await run(store.fetch(job.request))
  const ms = performance.now() - started
  let readMs: number | undefined
  let rangeMs: number | undefined
  if (job.read && job.request.kind === "blob") {
    const t = performance.now()
    await run(Stream.runDrain(store.read(job.request.hash)))
    readMs = performance.now() - t
    const r = performance.now()
    for (let i = 0; i < 100; i++)
      await run(
        Stream.runDrain(
          store.read(job.request.hash, {
            offset: (i * 997 * 1024) % (result.bytes - 65_536),
            length: 65_536,
          }),
        ),
      )
    rangeMs = (performance.now() - r) / 100
  }
  await close()
  reply({
    ms,
    bytes: result.bytes,
    readMs,
    rangeMs,
    sources: result.sources.map((s) => ({ blobs: s.blobs, MiB: Math.round(s.bytes / MiB) })),
    peakRssMiB: peakRssMiB(),
  })
} else {
  const iroh = await Iroh.persistent(path.join(job.dir, "plain"), {
    nodeDiscovery: "None" as NodeDiscoveryConfig,
    ipv4Addr: "127.0.0.1:0",
    ipv6Addr: "[::1]:0",
  })
  const source = job.request.sources[0] as IrohSource
  const format = (job.request.kind === "blob" ? "Raw" : "HashSeq") as BlobFormat
  const started = performance.now()
  let error: Error | undefined
  let bytes = 0
  await iroh.blobs.download(
    job.request.hash,
    new BlobDownloadOptions(
      format,
      [{ nodeId: source.nodeId, addresses: [...source.addresses] }],
      SetTagOption.auto(),
    ),
    (err, ev) => {
      if (err) error = err
      else if (ev.found) bytes += Number(ev.found.size)
    },
  )
  const ms = performance.now() - started
  if (error) throw error
  let readAtMs: number | undefined
  if (job.read) {
    // The number[] read the store avoids: 8 MiB through readAtToBytes.
    const t = performance.now()
    await iroh.blobs.readAtToBytes(job.request.hash, 0n, {
      type: "Exact" as ReadAtLenType,
      size: BigInt(8 * MiB),
    })
    readAtMs = performance.now() - t
  }
  await iroh.node.shutdown()
  reply({ ms, bytes, readAtMs, peakRssMiB: peakRssMiB() })
}
