// A providing node in its own process. Commands arrive as JSON lines on
// stdin; each gets one JSON line back on stdout.
import { randomFillSync } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { createInterface } from "node:readline"
import type { BlobHash, FetchRequest } from "../src/index.ts"
import { openStore, randomFile, reply } from "./common.ts"

const dir = process.argv[2] ?? ""
const { store, run, close } = await openStore(path.join(dir, "store"))

type Command =
  | { cmd: "source" }
  | { cmd: "addRandom"; size: number }
  | { cmd: "addCollection"; count: number; size: number }
  | { cmd: "fetch"; request: FetchRequest }
  | { cmd: "delete"; hash: BlobHash }
  | { cmd: "exit" }

reply({ ready: true, source: await run(store.source()) })
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as Command
  const started = performance.now()
  switch (command.cmd) {
    case "source":
      reply({ source: await run(store.source()) })
      break
    case "addRandom": {
      const file = path.join(dir, "input")
      await randomFile(file, command.size)
      const hash = await run(store.addPath(file))
      await fs.rm(file)
      reply({ hash, ms: performance.now() - started })
      break
    }
    case "addCollection": {
      const entries: Array<{ name: string; hash: BlobHash }> = []
      const buf = Buffer.alloc(command.size)
      for (let i = 0; i < command.count; i++) {
        randomFillSync(buf)
        entries.push({
          name: `file-${String(i).padStart(4, "0")}`,
          hash: await run(store.addBytes(buf)),
        })
      }
      const root = await run(store.createCollection(entries))
      reply({ hash: root, ms: performance.now() - started })
      break
    }
    case "fetch": {
      const result = await run(store.fetch(command.request))
      reply({ bytes: result.bytes, ms: performance.now() - started })
      break
    }
    case "delete":
      reply(await run(store.delete(command.hash)))
      break
    case "exit":
      await close()
      reply({ closed: true })
      process.exit(0)
  }
}
