// What a web page does with @save-dweb/client: list the daemon's groups and upload a file
// the person picked. The release check bundles this for the browser (minified) and
// reports its gzipped size; it is not run.
import { makeClient } from "@save-dweb/client/promise"

const client = makeClient({
  baseUrl: location.origin,
  token: sessionStorage.getItem("token") ?? "",
})
const groups = await client.groups.list()
const input = document.querySelector("input[type=file]")
input?.addEventListener("change", async () => {
  const file = input.files?.[0]
  if (file === undefined || groups[0] === undefined) return
  const info = await client.files.upload(groups[0].key, file.name, file)
  document.body.append(`${info.name}: ${info.size} bytes`)
})
