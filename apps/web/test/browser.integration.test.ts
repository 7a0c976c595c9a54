// The web page in a real browser (Debian's chromium through playwright-core) against two
// built daemons on a private testnet: Alice creates a group, uploads, makes a read link;
// Bob, in another browser context on his own daemon, joins by pasting it, sees the file
// and downloads it with the same SHA-256. Sign-in refusals, DNS rebinding, axe-core on
// each screen, a phone-sized run, and screenshots for the README.
import { createHash, randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { request } from "node:http"
import { join } from "node:path"
import { makeClient } from "@save-dweb/client/promise"
import { startTestnet, type Testnet } from "@save-dweb/veilid-testnet"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type BackupServer,
  type Daemon,
  ensureChromium,
  seriousViolations,
  startBackupServer,
  startDaemon,
} from "./support.ts"

const SCREENSHOTS = join(import.meta.dirname, "..", "screenshots")
const REBIND_HOST = "rebind.test"

let testnet: Testnet
let alice: Daemon
let bob: Daemon
let box: BackupServer
let browser: Browser
const contexts: Array<BrowserContext> = []
/** Alice's page on the group she removed Bob from, for the drop test after it. */
let team: Page | undefined
/** Content-Security-Policy reports from every page: the page must cause none. */
const cspErrors: Array<string> = []

beforeAll(async () => {
  const executablePath = ensureChromium()
  testnet = await startTestnet({ readyTimeoutMs: 120_000 })
  ;[alice, bob, box] = await Promise.all([
    startDaemon(testnet, "web-alice"),
    startDaemon(testnet, "web-bob"),
    startBackupServer(testnet, "web-box", "Archive box"),
  ])
  browser = await chromium.launch({
    executablePath,
    // Root in a container: no user namespaces for chromium's sandbox.
    args: ["--no-sandbox", `--host-resolver-rules=MAP ${REBIND_HOST} 127.0.0.1`],
  })
}, 600_000)

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await browser?.close().catch(() => {})
  for (const d of [alice, bob, box])
    if (d !== undefined && d.child.exitCode === null) d.child.kill("SIGTERM")
  await testnet?.stop()
}, 120_000)

/** Waits for a condition on the page: pages on a loaded two-core machine take seconds. */
const poll = <T>(read: () => Promise<T> | T, timeout = 30_000) =>
  expect.poll(read, { timeout, interval: 250 })

const newPage = async (options: Parameters<Browser["newContext"]>[0] = {}): Promise<Page> => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, ...options })
  contexts.push(context)
  const page = await context.newPage()
  page.on("console", (m) => {
    if (/Content.Security.Policy/i.test(m.text())) cspErrors.push(m.text())
  })
  return page
}

/** A one-time code, as `save-dweb ui` asks for it. */
const codeFor = async (d: Daemon) => {
  const client = makeClient({ baseUrl: d.url, token: d.token })
  try {
    return (await client.signIn.code()).code
  } finally {
    await client.close()
  }
}

const signedIn = async (d: Daemon, page: Page) => {
  await page.goto(`${d.url}/#code=${await codeFor(d)}`)
  await poll(() => page.getByRole("heading", { name: "Your groups" }).count()).toBe(1)
  return page
}

const noSeriousViolations = async (page: Page, screen: string) => {
  const violations = await seriousViolations(page)
  expect(violations, `${screen}: ${JSON.stringify(violations)}`).toEqual([])
}

const shot = (page: Page, name: string, fullPage = false) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), scale: "css", fullPage })

/** Waits up to `timeout` for `check`; false if it never held (the caller decides). */
const until = async (check: () => Promise<boolean>, timeout: number) => {
  const deadline = Date.now() + timeout
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 250))
  }
  return false
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** The row of the files table naming `name`. */
const fileRow = (page: Page, name: string) =>
  page.getByRole("row").filter({ has: page.getByRole("cell", { name, exact: true }) })

/** No stack, no `undefined`, no `[object ...]`: the API's sentence. */
const isSentence = (text: string | null) =>
  /\w+ \w+/.test(text ?? "") && !/at \w+ \(|undefined|\[object/.test(text ?? "")

const rawStatus = (port: number, host: string, path: string) =>
  new Promise<number>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on("error", reject)
    req.end()
  })

describe("the web page on two daemons", () => {
  it("refuses a wrong sign-in code and a used one, keeps no code in the URL, and answers no foreign Host", async () => {
    const page = await newPage()
    await page.goto(`${alice.url}/#code=not-a-code`)
    await poll(() => page.getByRole("alert").textContent()).toMatch(
      /sign-in code is wrong, used or expired/,
    )
    expect(page.url()).not.toContain("code")
    await noSeriousViolations(page, "sign-in refused")
    await shot(page, "sign-in-refused")

    const code = await codeFor(alice)
    const first = await newPage()
    await first.goto(`${alice.url}/#code=${code}`)
    await poll(() => first.getByRole("heading", { name: "Your groups" }).count()).toBe(1)
    expect(first.url()).toBe(`${alice.url}/`)
    const second = await newPage()
    await second.goto(`${alice.url}/#code=${code}`)
    await poll(() => second.getByRole("alert").textContent()).toMatch(/wrong, used or expired/)
    // The page's HTML and the API alike, for a name that resolves to 127.0.0.1 (rebinding).
    const rebound = await second.goto(`http://${REBIND_HOST}:${alice.port}/`)
    expect(rebound?.status()).toBe(403)
    expect(await rawStatus(alice.port, `evil.example:${alice.port}`, "/v1/health")).toBe(403)
    expect(await rawStatus(alice.port, `127.0.0.1:${alice.port}`, "/v1/health")).toBe(200)
    const headers = (await first.goto(`${alice.url}/`))?.headers() ?? {}
    expect(headers["content-security-policy"]).toContain("script-src 'self'")
    expect(headers["set-cookie"]).toBeUndefined()
    // Nothing in this tab's history leads back to the code.
    await first.goBack()
    expect(first.url()).not.toContain("code")
  })

  it("Alice creates a group, uploads, makes a read link; Bob joins by pasting it, sees the file and downloads the same bytes", async () => {
    const a = await signedIn(alice, await newPage())
    await noSeriousViolations(a, "groups")
    await shot(a, "groups")
    await a.getByLabel("Group name").fill("Family photos")
    await a.getByLabel("Your name in it", { exact: true }).fill("Alice")
    await a.getByRole("button", { name: "Create" }).click()
    await poll(() => a.getByRole("heading", { name: "Family photos" }).count(), 120_000).toBe(1)

    const bytes = randomBytes(300_000)
    const second = randomBytes(20_000)
    await a.locator('input[type="file"]').setInputFiles([
      { name: "holiday.jpg", mimeType: "image/jpeg", buffer: bytes },
      { name: "notes.txt", mimeType: "text/plain", buffer: second },
    ])
    await poll(
      () => a.getByRole("cell", { name: "holiday.jpg", exact: true }).count(),
      60_000,
    ).toBe(1)
    await poll(() => a.getByRole("cell", { name: "notes.txt", exact: true }).count(), 60_000).toBe(
      1,
    )
    // Each upload's progress ends done; both files are here on Alice's device.
    await poll(() => a.getByRole("progressbar", { name: "holiday.jpg: done" }).count()).toBe(1)
    await poll(() => a.getByRole("progressbar", { name: "notes.txt: done" }).count()).toBe(1)
    for (const name of ["holiday.jpg", "notes.txt"]) {
      expect(await fileRow(a, name).getByRole("cell", { name: "here", exact: true }).count()).toBe(
        1,
      )
      expect(
        await fileRow(a, name)
          .getByRole("button", { name: `Delete ${name}` })
          .count(),
      ).toBe(1)
    }
    await poll(() => a.locator(".events li").count()).toBeGreaterThan(0)
    await noSeriousViolations(a, "files")
    await shot(a, "files")

    await a.getByRole("tab", { name: "Members" }).click()
    await poll(() => a.getByRole("cell", { name: /Alice/ }).count()).toBeGreaterThan(0)
    await poll(() => a.getByRole("cell", { name: "this device" }).count()).toBe(1)
    await noSeriousViolations(a, "members")
    // The manager switches the transport and back; the page says what each means.
    await poll(() => a.getByText(/Transport: private\./).count()).toBe(1)
    await a.getByRole("button", { name: "Make it direct" }).click()
    await poll(() => a.getByText(/Transport: direct\./).count(), 60_000).toBe(1)
    await a.getByRole("button", { name: "Make it private" }).click()
    await poll(() => a.getByText(/Transport: private\./).count(), 60_000).toBe(1)

    await a.getByRole("tab", { name: "Backups" }).click()
    await poll(() => a.getByRole("heading", { name: "Backup servers" }).count()).toBe(1)
    await poll(() => a.getByText("No backup server holds this group.").count()).toBe(1)
    await noSeriousViolations(a, "backups")
    // A link that is not a backup server's: the API's sentence.
    await a.getByLabel(/Backup server link/).fill("save+dweb:backup?v=1")
    await a.getByRole("button", { name: "Add" }).click()
    await poll(() => a.getByRole("alert").count()).toBe(1)
    expect(isSentence(await a.getByRole("alert").textContent())).toBe(true)
    // A real backup server: pasted once, listed, removed with its own button.
    const listed = a.getByRole("cell", { name: "Archive box", exact: true })
    const added = await until(async () => {
      if ((await a.getByLabel(/Backup server link/).inputValue()) !== box.link) {
        await a.getByLabel(/Backup server link/).fill(box.link)
      }
      await a.getByRole("button", { name: "Add" }).click()
      // Its route may not be published yet: the page says so, and Add is tried again.
      return until(async () => (await listed.count()) === 1, 20_000)
    }, 180_000)
    expect(added, "the backup server is listed").toBe(true)
    expect(await a.getByRole("alert").count()).toBe(0)
    expect(await a.getByRole("cell", { name: "you", exact: true }).count()).toBe(1)
    await noSeriousViolations(a, "backups with a server")
    await shot(a, "backups")
    await a.getByRole("button", { name: "Remove Archive box" }).click()
    await poll(() => a.getByText("No backup server holds this group.").count(), 60_000).toBe(1)
    expect(await listed.count()).toBe(0)
    expect(await a.getByRole("alert").count()).toBe(0)

    await a.getByRole("tab", { name: "Invite" }).click()
    // Each tier is said in words beside its choice.
    for (const words of [
      /Reader: can see and download/,
      /Member: can read every/,
      /Replica: keeps/,
    ])
      expect(await a.getByText(words).count()).toBe(1)
    await a.getByRole("radio", { name: /^read/ }).check()
    await a.getByRole("button", { name: "Make a read link" }).click()
    const linkBox = a.getByLabel("Invite link (read)")
    await poll(() => linkBox.inputValue(), 60_000).toMatch(/^save\+dweb:/)
    const link = await linkBox.inputValue()
    expect(await a.getByRole("img", { name: /QR code of the read invite link/ }).count()).toBe(1)
    // The copy button puts the link on the clipboard.
    await a.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: alice.url })
    await a.getByRole("button", { name: "Copy link" }).click()
    await poll(() => a.getByText("Copied.").count()).toBe(1)
    expect(await a.evaluate(() => navigator.clipboard.readText())).toBe(link)
    await noSeriousViolations(a, "invite")
    await shot(a, "invite", true)

    const b = await signedIn(bob, await newPage())
    // A link that is not one: the API's sentence, not a stack or a blank page.
    await b.getByLabel("Invite link").fill("save+dweb:invite?v=1&cap=read")
    await b.getByRole("button", { name: "Join" }).click()
    await poll(() => b.getByRole("alert").textContent()).toMatch(/\w+ \w+/)
    expect(isSentence(await b.getByRole("alert").textContent())).toBe(true)
    await b.getByLabel("Invite link").fill(link)
    await b.getByRole("button", { name: "Join" }).click()
    await poll(() => b.getByRole("heading", { name: "Family photos" }).count(), 120_000).toBe(1)
    // Alice's files reach Bob's list through her route (a sync pass if they are not there yet).
    const deadline = Date.now() + 120_000
    while ((await b.getByRole("cell", { name: "holiday.jpg", exact: true }).count()) === 0) {
      if (Date.now() > deadline) throw new Error("Bob never saw holiday.jpg")
      await b.getByRole("button", { name: "Sync now" }).click()
      await b.waitForTimeout(2_000)
    }
    await noSeriousViolations(b, "files (reader)")
    const downloading = b.waitForEvent("download", { timeout: 120_000 })
    await b.getByRole("button", { name: "Download holiday.jpg" }).click()
    const download = await downloading
    expect(download.suggestedFilename()).toBe("holiday.jpg")
    const path = await download.path()
    expect(sha256(readFileSync(path))).toBe(sha256(bytes))
    // The download's progress ends at every byte.
    await poll(() => b.getByRole("progressbar", { name: "holiday.jpg: done" }).count()).toBe(1)
    expect(await b.getByText(/done 293 KiB of 293 KiB/).count()).toBe(1)
    await shot(b, "reader-files")
    // Sync now reports what it reached; the activity panel shows the daemon's sync events.
    await b.getByRole("button", { name: "Sync now" }).click()
    await poll(() => b.getByText(/^Synced \d+ members?/).count(), 60_000).toBe(1)
    await poll(() => b.locator(".events li").filter({ hasText: /sync/ }).count()).toBeGreaterThan(0)
    // Another member's file, held here: by the download's pin ("here, pinned") when the
    // download fetched it, or by the sync ("here") when a sync pass got it first. The reader
    // may unpin it either way (the API answers, no error).
    const held = fileRow(b, "holiday.jpg")
    expect(await held.getByRole("cell", { name: /^here(, pinned)?$/ }).count()).toBe(1)
    expect(await held.getByRole("button", { name: /^Delete/ }).count()).toBe(0)
    await held.getByRole("button", { name: "Unpin holiday.jpg" }).click()
    // Dropped here though the sync held it too: remote only, "Keep here" offered.
    await poll(() => held.getByRole("cell", { name: "remote only", exact: true }).count()).toBe(1)
    expect(await held.getByRole("button", { name: "Keep here holiday.jpg" }).count()).toBe(1)
    expect(await b.getByRole("alert").count()).toBe(0)

    // Alice deletes her second file; Bob's list follows (events, or a sync pass).
    await a.getByRole("tab", { name: "Files" }).click()
    await a.getByRole("button", { name: "Delete notes.txt" }).click()
    await poll(() => a.getByRole("cell", { name: "notes.txt", exact: true }).count()).toBe(0)
    await poll(() => a.getByRole("cell", { name: "holiday.jpg", exact: true }).count()).toBe(1)
    expect(cspErrors).toEqual([])
  })

  it("Bob joins a second group by a write link on his own daemon; Alice sees him reachable and, as manager, removes him", async () => {
    const a = await signedIn(alice, await newPage())
    await a.getByLabel("Group name").fill("Team")
    await a.getByLabel("Your name in it", { exact: true }).fill("Alice")
    await a.getByRole("button", { name: "Create" }).click()
    await poll(() => a.getByRole("heading", { name: "Team" }).count(), 120_000).toBe(1)
    await a.getByRole("tab", { name: "Invite" }).click()
    await a.getByRole("radio", { name: /^write/ }).check()
    await a.getByRole("button", { name: "Make a write link" }).click()
    const linkBox = a.getByLabel("Invite link (write)")
    await poll(() => linkBox.inputValue(), 60_000).toMatch(/^save\+dweb:/)

    const b = await signedIn(bob, await newPage())
    await b.getByLabel("Invite link").fill(await linkBox.inputValue())
    await b.getByLabel("Your name (for write invites)").fill("Bob")
    await b.getByRole("button", { name: "Join" }).click()
    await poll(() => b.getByRole("heading", { name: "Team" }).count(), 120_000).toBe(1)
    expect(await b.getByText(/^Member: can read every/).count()).toBe(1)

    // Alice's Members tab lists Bob and asks him for a round trip over his private route;
    // each visit of the tab asks again, until his route answers.
    const bobRow = a
      .getByRole("row")
      .filter({ has: a.getByRole("cell", { name: "Bob", exact: true }) })
    const reached = bobRow.getByRole("cell", { name: /^yes \(\d+ ms\)$/ })
    const deadline = Date.now() + 240_000
    for (;;) {
      await a.getByRole("tab", { name: "Members" }).click()
      const answered = bobRow.getByRole("cell", { name: /^(yes|no)\b/ })
      await until(async () => (await answered.count()) === 1, 45_000)
      if ((await reached.count()) === 1) break
      if (Date.now() > deadline) {
        throw new Error(`Bob never answered: ${await a.getByRole("table").textContent()}`)
      }
      await a.getByRole("tab", { name: "Files" }).click()
    }
    expect(await bobRow.getByRole("cell", { name: "member (write)" }).count()).toBe(1)
    await noSeriousViolations(a, "members with a reachable member")
    await shot(a, "members")

    // Removing him moves the group to new keys; its member list no longer has him.
    await bobRow.getByRole("button", { name: "Remove Bob" }).click()
    await poll(async () => {
      const mine = await a.getByRole("cell", { name: "this device" }).count()
      const his = await a.getByRole("cell", { name: "Bob", exact: true }).count()
      return mine === 1 && his === 0
    }, 180_000).toBe(true)
    expect(await a.getByRole("alert").count()).toBe(0)
    await noSeriousViolations(a, "members after a removal")
    team = a
    expect(cspErrors).toEqual([])
  })

  it("the manager drops a 20 MB file onto Add files: the bytes sent show as they go, and it ends done", async () => {
    expect(team, "the previous test left Alice on the Team group").toBeDefined()
    const a = team as Page
    await a.getByRole("tab", { name: "Files" }).click()
    const dropArea = a.getByRole("region", { name: "Add files" })
    await poll(() => dropArea.count()).toBe(1)
    // Every text the transfers list shows, as it changes.
    await a.evaluate(() => {
      const seen: Array<string> = []
      ;(window as unknown as { transferTexts: Array<string> }).transferTexts = seen
      new MutationObserver(() => {
        for (const li of document.querySelectorAll(".transfers li")) seen.push(li.textContent ?? "")
      }).observe(document.body, { subtree: true, childList: true, characterData: true })
    })
    // A real drop: a DataTransfer holding a File made in the page.
    const dataTransfer = await a.evaluateHandle(() => {
      const bytes = new Uint8Array(20 * 1024 * 1024)
      for (let at = 0; at < bytes.length; at += 65_536) {
        crypto.getRandomValues(bytes.subarray(at, at + 65_536))
      }
      const transfer = new DataTransfer()
      transfer.items.add(new File([bytes], "big.bin", { type: "application/octet-stream" }))
      return transfer
    })
    // On loopback the browser hands 20 MiB to the socket faster than it reports progress
    // (the count jumped from 0 B to 20 MiB in one of ten runs), so the page's uplink is
    // held to 8 MiB/s, as a phone's or a home connection's would be: about 2.5 s to send.
    const devtools = await a.context().newCDPSession(a)
    await devtools.send("Network.enable")
    await devtools.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 8 * 1024 * 1024,
    })
    await dropArea.dispatchEvent("dragover", { dataTransfer })
    await dropArea.dispatchEvent("drop", { dataTransfer })
    await poll(() => a.getByRole("progressbar", { name: "big.bin: done" }).count(), 180_000).toBe(1)
    await devtools.detach()
    await poll(() => a.getByRole("cell", { name: "big.bin", exact: true }).count(), 60_000).toBe(1)
    expect(await fileRow(a, "big.bin").getByRole("cell", { name: "20 MiB" }).count()).toBe(1)
    expect(await a.getByText("done 20 MiB of 20 MiB").count()).toBe(1)
    // At least one count between nothing and everything was shown while sending.
    const texts = await a.evaluate(
      () => (window as unknown as { transferTexts: Array<string> }).transferTexts,
    )
    const between = texts
      .map((t) => /^big\.bin\s*sending (.+) of 20 MiB$/.exec(t)?.[1])
      .filter((sent) => sent !== undefined && sent !== "0 B" && sent !== "20 MiB")
    expect(between.length, `shown: ${[...new Set(texts)].join(" | ")}`).toBeGreaterThan(0)
    expect(cspErrors).toEqual([])
  })

  it("fits a phone-sized screen", async () => {
    const phone = await newPage({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 1,
      isMobile: true,
      hasTouch: true,
    })
    await signedIn(alice, phone)
    await phone.getByRole("button", { name: /Family photos/ }).click()
    await poll(
      () => phone.getByRole("cell", { name: "holiday.jpg", exact: true }).count(),
      60_000,
    ).toBe(1)
    const overflow = await phone.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    )
    expect(overflow).toBeLessThanOrEqual(0)
    await noSeriousViolations(phone, "phone files")
    await shot(phone, "phone")
    const manifest = await phone.request.get(`${alice.url}/manifest.webmanifest`)
    expect(manifest.status()).toBe(200)
    expect((await manifest.json()).icons.length).toBeGreaterThan(0)
    expect(cspErrors).toEqual([])
  })

  it("opens the API reference (Effect's Scalar page) signed in, and tries a route with the tab's token", async () => {
    const page = await signedIn(alice, await newPage())
    await page.getByRole("button", { name: "API reference" }).click()
    await page.waitForURL(`${alice.url}/docs`, { timeout: 30_000 })
    await poll(() => page.getByText("save-dweb daemon API").count()).toBeGreaterThan(0)
    // The tab still holds the token, which Scalar's test requests (customFetch) send.
    const status = await page.evaluate(async () => {
      const token = sessionStorage.getItem("save-dweb.token")
      const answer = await fetch("/v1/status", { headers: { authorization: `Bearer ${token}` } })
      return answer.status
    })
    expect(status).toBe(200)
    await shot(page, "api-reference")
    expect(cspErrors).toEqual([])
  })
})
