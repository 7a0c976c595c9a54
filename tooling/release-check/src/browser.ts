// The browser bundle in a real browser: Debian's chromium through playwright-core loads a
// page that runs it, served with the stand-in for the daemon from one origin (as the
// daemon serves its web page beside its API). The page lists the groups and uploads a
// file picked in its file input; its log says what happened, and the stand-in holds the
// bytes it received.
import { Buffer } from "node:buffer"
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { chromiumPath, ensureChromium } from "@save-dweb/test-support/chromium"
import { chromium } from "playwright-core"
import { startStandInDaemon } from "./consumer/stand-in-daemon.mjs"

/** Chromium is there, or this is root and can install it with apt. */
export const canRunChromium = (): boolean => existsSync(chromiumPath) || process.getuid?.() === 0

export interface Chunk {
  readonly fileName: string
  readonly code: string
  readonly isEntry: boolean
}

/** Loads the bundle in chromium; returns what the page logged, throws what went wrong. */
export const runBundleInChromium = async (
  chunks: ReadonlyArray<Chunk>,
): Promise<{ readonly browser: string; readonly log: string }> => {
  const entry = chunks.find((chunk) => chunk.isEntry)
  if (entry === undefined) throw new Error("the bundle has no entry chunk")
  const token = "release-check-browser"
  const group = {
    key: `VLD0:${Buffer.alloc(32, 5).toString("base64url")}`,
    name: "Family",
    tier: "manage",
    loaded: true,
  }
  const pages = Object.fromEntries([
    [
      "/",
      {
        type: "text/html; charset=utf-8",
        body: `<!doctype html><meta charset="utf-8"><title>release check</title><link rel="icon" href="data:,"><input type="file"><pre id="log"></pre><script type="module" src="/${entry.fileName}"></script>`,
      },
    ],
    ...chunks.map((chunk) => [`/${chunk.fileName}`, { type: "text/javascript", body: chunk.code }]),
  ])
  const daemon = await startStandInDaemon({ token, groups: [group], pages })
  const browser = await chromium.launch({
    executablePath: ensureChromium(),
    // Root in a container: no user namespaces for chromium's sandbox.
    args: ["--no-sandbox"],
  })
  try {
    const page = await browser.newPage()
    const errors: Array<string> = []
    page.on("pageerror", (error) => errors.push(error.message))
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`${message.text()} (${message.location().url})`)
    })
    // The token a signed-in page keeps in sessionStorage.
    await page.addInitScript((value) => sessionStorage.setItem("token", value), token)
    await page.goto(`${daemon.url}/`)
    const logSays = (text: string) =>
      page.waitForFunction(
        (what) => document.querySelector("#log")?.textContent?.includes(what) === true,
        text,
        { timeout: 30_000 },
      )
    await Promise.race([logSays("groups: "), logSays("groups failed")])
    const listed = (await page.textContent("#log")) ?? ""
    if (!listed.includes("groups: Family")) throw new Error(`the page logged: ${listed}`)
    const bytes = randomBytes(1_500_000)
    await page.setInputFiles("input[type=file]", {
      name: "photo.jpg",
      mimeType: "image/jpeg",
      buffer: bytes,
    })
    await Promise.race([logSays("uploaded "), logSays("upload failed")])
    const log = (await page.textContent("#log")) ?? ""
    if (!log.includes(`uploaded photo.jpg: ${bytes.length} bytes`)) {
      throw new Error(`the page logged: ${log}`)
    }
    if (!daemon.stored.get("photo.jpg")?.equals(bytes)) {
      throw new Error("the stand-in did not receive the picked file's bytes")
    }
    if (errors.length > 0) throw new Error(`the page reported errors: ${errors.join("; ")}`)
    return { browser: `chromium ${browser.version()}`, log }
  } finally {
    await browser.close().catch(() => {})
    await daemon.close()
  }
}
