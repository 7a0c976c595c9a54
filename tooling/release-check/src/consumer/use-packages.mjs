// What a program outside the workspace does with the installed tarballs: plain ESM, no
// TypeScript, no source condition. The release check copies it into an empty directory
// after `npm install` (with stand-in-daemon.mjs) and runs it with node.

import { Buffer } from "node:buffer"
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
import { startStandInDaemon } from "./stand-in-daemon.mjs"

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
const daemon = await startStandInDaemon({
  token,
  groups: [{ key: record, name: "Family", tier: "manage", loaded: true }],
})
const baseUrl = daemon.url
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
  await daemon.close()
}
