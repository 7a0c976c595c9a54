// The host process: runs every node of one testnet (several Veilid nodes
// in one process, each with its own namespace and storage) and reports their
// attachment state to the parent over the IPC channel. Started by
// startTestnet with `fork`; it exits when told to stop or when its parent
// goes away, so a crashed test leaves no node running.
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs"
import { join } from "node:path"
import type { HostCommand, HostEvent } from "./host-protocol.ts"
import { loadNativeBinding, type NativeNode } from "./native.ts"

const SHUTDOWN_TIMEOUT_MS = 10_000

const send = (event: HostEvent): void => {
  if (process.connected) process.send?.(event)
}

const nativePath = process.argv[2]
const logDir = process.argv[3]
if (!nativePath || !logDir) {
  console.error("usage: host.ts <native binding path> <log dir>")
  process.exit(2)
}

const binding = await loadNativeBinding(nativePath)
const nodes = new Map<string, NativeNode>()
const logs = new Map<string, WriteStream>()
let stopping: Promise<void> | undefined

const onUpdate = (name: string) => (updateJson: string) => {
  let update: { kind?: string; [key: string]: unknown }
  try {
    update = JSON.parse(updateJson)
  } catch {
    return
  }
  if (update.kind === "Log") {
    logs.get(name)?.write(`${update.log_level ?? ""} ${update.message ?? ""}\n`)
  } else if (update.kind === "Attachment") {
    logs
      .get(name)
      ?.write(
        `${new Date().toISOString()} attachment ${update.state} public_internet_ready=${update.public_internet_ready} live_peers=${update.live_peer_count}\n`,
      )
    send({
      type: "attachment",
      name,
      state: String(update.state ?? ""),
      publicInternetReady: update.public_internet_ready === true,
      livePeers: Number(update.live_peer_count ?? 0),
    })
  }
}

const startNode = async (name: string, config: string): Promise<void> => {
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: "a" })
  logs.set(name, log)
  try {
    const node = await binding.VeilidNode.start(config, onUpdate(name))
    nodes.set(name, node)
    const response = JSON.parse(await node.request(JSON.stringify({ id: 1, op: "Attach" })))
    if (response.error !== undefined) throw new Error(`Attach: ${JSON.stringify(response.error)}`)
    send({ type: "started", name })
  } catch (error) {
    send({ type: "failed", name, message: error instanceof Error ? error.message : String(error) })
  }
}

const withTimeout = <A>(promise: Promise<A>, ms: number): Promise<A | undefined> =>
  Promise.race([
    promise,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref()),
  ])

const stop = (): Promise<void> => {
  stopping ??= (async () => {
    await Promise.all(
      [...nodes.values()].map((node) =>
        withTimeout(
          node.shutdown().catch(() => undefined),
          SHUTDOWN_TIMEOUT_MS,
        ),
      ),
    )
    for (const log of logs.values()) log.end()
    send({ type: "stopped" })
    process.exit(0)
  })()
  return stopping
}

process.on("message", (command: HostCommand) => {
  if (command.type === "start") {
    mkdirSync(logDir, { recursive: true })
    void Promise.all(command.nodes.map((node) => startNode(node.name, node.config)))
  } else if (command.type === "stop") {
    void stop()
  } else if (command.type === "debug") {
    const node = nodes.get(command.name)
    const request = JSON.stringify({ id: 2, op: "Debug", command: command.command })
    void (node ? node.request(request) : Promise.resolve(`{"error":"no node ${command.name}"}`))
      .then((response) => {
        const parsed = JSON.parse(response)
        return typeof parsed.value === "string" ? parsed.value : response
      })
      .catch((error: unknown) => String(error))
      .then((output) => send({ type: "debug", id: command.id, output }))
  }
})
process.on("disconnect", () => void stop())
process.on("SIGTERM", () => void stop())
process.on("SIGINT", () => void stop())

send({ type: "hello", defaultConfig: binding.defaultConfig() })
