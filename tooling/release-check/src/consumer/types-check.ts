// What a TypeScript project outside the workspace sees of the installed packages: the
// release check type-checks this (strict, `nodenext`, `skipLibCheck: false`, no
// @types/node, as in a browser project) against their published declarations. Not run.
import { openApiDocument } from "@save-dweb/client"
import { type GroupSummary, makeClient, UnknownGroup } from "@save-dweb/client/promise"
import { deriveKey, encryptFile, GroupSecret, KeyName } from "@save-dweb/crypto"
import { describeLink, parseLinkSync } from "@save-dweb/uri-scheme"
import { Effect } from "effect"

const client = makeClient({ baseUrl: "http://127.0.0.1:7575", token: "a token" })
const groups: ReadonlyArray<GroupSummary> = await client.groups.list()
const rejected: boolean =
  (await client.groups.get("VLD0:x").catch((e) => e)) instanceof UnknownGroup
const paths: number = Object.keys(openApiDocument().paths).length
const secret = await Effect.runPromise(GroupSecret.generate)
const sealed: Uint8Array = await Effect.runPromise(
  encryptFile(deriveKey(secret, KeyName.fileContents), new Uint8Array(3)),
)
const link: string = describeLink(parseLinkSync("save+dweb:..."))
export const seen = [groups.length, rejected, paths, sealed.length, link]
