// What a web page does with @save-dweb/client: list the daemon's groups and upload a file
// the person picked, saying what happened in the page. The release check bundles this for
// the browser (minified), reports its gzipped size, and loads it in chromium from a
// stand-in for the daemon (same origin), picks a file and reads the page's log.
import { makeClient } from "@save-dweb/client/promise"

const log = (line) => document.querySelector("#log")?.append(`${line}\n`)
const client = makeClient({
  baseUrl: location.origin,
  token: sessionStorage.getItem("token") ?? "",
})
try {
  const groups = await client.groups.list()
  log(`groups: ${groups.map((group) => group.name).join(", ")}`)
  const input = document.querySelector("input[type=file]")
  input?.addEventListener("change", async () => {
    const file = input.files?.[0]
    if (file === undefined || groups[0] === undefined) return
    try {
      const info = await client.files.upload(groups[0].key, file.name, file)
      log(`uploaded ${info.name}: ${info.size} bytes`)
    } catch (error) {
      log(`upload failed: ${error}`)
    }
  })
} catch (error) {
  log(`groups failed: ${error}`)
}
