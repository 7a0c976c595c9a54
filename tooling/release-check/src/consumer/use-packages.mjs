// What a program outside the workspace does with the installed tarballs: plain ESM, no
// TypeScript, no source condition. The release check copies it into an empty directory
// after `npm install` and runs it with node.

import { Buffer } from "node:buffer"
import { createServer } from "node:http"
import { openApiDocument } from "@save-dweb/client"
import { makeClient, UnknownGroup } from "@save-dweb/client/promise"
import { decryptFile, deriveKey, encryptFile, GroupSecret, KeyName } from "@save-dweb/crypto"
import {
  BackupDescriptor,
  describeLink,
  formatLink,
  makeSecretKey,
  parseLinkSync,
} from "@save-dweb/uri-scheme"
import { Effect } from "effect"

const check = (ok, what) => {
  if (!ok) throw new Error(`release check: ${what}`)
  console.log(`  ok  ${what}`)
}

// crypto: a group secret, a derived key, a file encrypted and decrypted in memory.
const secret = await Effect.runPromise(GroupSecret.generate)
const key = deriveKey(secret, KeyName.fileContents)
const plaintext = new TextEncoder().encode("a file for the release check")
const sealed = await Effect.runPromise(encryptFile(key, plaintext))
const opened = await Effect.runPromise(decryptFile(key, sealed))
check(
  Buffer.from(opened).equals(Buffer.from(plaintext)),
  "crypto: encryptFile/decryptFile round trip",
)

// uri-scheme: a backup-server descriptor link formatted and parsed back.
const record = `VLD0:${Buffer.alloc(32, 3).toString("base64url")}`
const link = formatLink(
  new BackupDescriptor({
    record,
    accessSecret: makeSecretKey(new Uint8Array(32).fill(9)),
    name: "Shelf",
  }),
)
const parsed = parseLinkSync(link)
check(
  parsed._tag === "BackupDescriptor" && parsed.record === record,
  `uri-scheme: ${describeLink(parsed)}`,
)

// client: the Promise API over real HTTP against a stand-in for the daemon's routes.
const token = "release-check-token"
const stored = new Map()
const server = createServer(async (request, response) => {
  const answer = (status, body) => {
    response.writeHead(status, { "content-type": "application/json" })
    response.end(JSON.stringify(body))
  }
  if (request.url === "/v1/health") return answer(200, { ok: true, api: "v1" })
  if (request.headers.authorization !== `Bearer ${token}`)
    return answer(401, { error: "Unauthorized", message: "no token" })
  if (request.method === "GET" && request.url === "/v1/groups")
    return answer(200, [{ key: record, name: "Family", tier: "manage", loaded: true }])
  const file = /^\/v1\/groups\/([^/]+)\/repos\/mine\/files\/([^/]+)$/.exec(request.url ?? "")
  if (request.method === "PUT" && file !== null) {
    const chunks = []
    for await (const chunk of request) chunks.push(chunk)
    const bytes = Buffer.concat(chunks)
    stored.set(decodeURIComponent(file[2]), bytes)
    return answer(201, {
      name: decodeURIComponent(file[2]),
      hash: "0".repeat(64),
      size: bytes.length,
      storedSize: bytes.length,
      createdAt: 0,
      modifiedAt: 0,
      owner: "Alice",
      status: "local",
    })
  }
  if (request.method === "GET" && file !== null) {
    const bytes = stored.get(decodeURIComponent(file[2]))
    response.writeHead(200, { "content-length": String(bytes.length) })
    return response.end(bytes)
  }
  return answer(404, { error: "UnknownGroup", message: `no group at ${request.url}` })
})
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
const baseUrl = `http://127.0.0.1:${server.address().port}`
const client = makeClient({ baseUrl, token })
try {
  check((await client.health()).ok === true, "client: health")
  const groups = await client.groups.list()
  check(groups.length === 1 && groups[0].name === "Family", "client: groups.list()")
  const upload = new Blob([sealed]).stream()
  const info = await client.files.upload(record, "notes.bin", upload)
  check(info.size === sealed.length, `client: files.upload streamed ${info.size} bytes`)
  const download = await client.files.download(record, "mine", "notes.bin")
  const back = new Uint8Array(await new Response(download.body).arrayBuffer())
  const decrypted = await Effect.runPromise(decryptFile(key, back))
  check(Buffer.from(decrypted).equals(Buffer.from(plaintext)), "client: files.download, decrypted")
  const error = await client.groups.get("VLD0:nothing").catch((e) => e)
  check(error instanceof UnknownGroup, `client: rejects with ${error._tag}`)
  check(Object.keys(openApiDocument().paths).length > 15, "client: openApiDocument()")
} finally {
  await client.close()
  server.close()
}
