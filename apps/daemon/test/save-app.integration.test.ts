// The Save Android app against two built daemons' `--save-app-api` on a private testnet,
// in raw HTTP: every request its DWeb client makes (Save-app-android, branch
// NEXT-WITHOUT-STORACHA: `SnowbirdService`'s start-up checks, `RetrofitClient`'s routes),
// in the order of its flows, with its paths, headers and bodies, checking every field its
// data classes (`SnowbirdDTOs.kt`) read and the bytes downloaded. Run inside
// `veilid-testnet exec` (the `test` script does).
import { randomBytes } from "node:crypto"
import { existsSync, statSync } from "node:fs"
import { join } from "node:path"
import { eventuallyAsync } from "@save-dweb/test-support"
import { parseLinkSync } from "@save-dweb/uri-scheme"
import { startTestnet, type Testnet } from "@save-dweb/veilid-testnet"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  awaitReady,
  networkFlag,
  type RunningDaemon,
  type SpawnedDaemon,
  spawnDaemon,
  tempDir,
} from "./harness.ts"

let testnet: Testnet
const spawned: Array<SpawnedDaemon> = []

interface Device {
  readonly daemon: RunningDaemon
  /** `http://127.0.0.1:<port>`: the app's `http://localhost:8080`. */
  readonly base: string
}
let alice: Device
let bob: Device

/** What the app asked, as `METHOD /template`: checked against its client at the end. */
const asked = new Set<string>()

/** The app's calls: `SnowbirdService.checkFullReadiness` and `RetrofitClient` (under /api/). */
const APP_CALLS = [
  "GET /status",
  "GET /health/ready",
  "POST /api/groups",
  "GET /api/groups",
  "GET /api/groups/{groupKey}",
  "POST /api/memberships",
  "POST /api/groups/{group_id}/refresh",
  "POST /api/groups/{groupKey}/repos",
  "GET /api/groups/{groupKey}/repos",
  "GET /api/groups/{groupKey}/repos/{repoKey}/media",
  "POST /api/groups/{groupKey}/repos/{repoKey}/media/{filename}",
  "GET /api/groups/{groupKey}/repos/{repoKey}/media/{filename}",
]

// OkHttp's own headers on every call, and the JSON body as Retrofit's kotlinx converter
// sends it (`asConverterFactory("application/json; charset=UTF8")`, as the app spells it).
const OKHTTP = { "user-agent": "okhttp/4.12.0", "accept-encoding": "gzip" }
const APP_JSON = "application/json; charset=UTF8"

/** Android's `Uri.encode`: everything but letters, digits and `_-!.~'()*` percent-encoded. */
const androidUriEncode = (text: string) =>
  Array.from(new TextEncoder().encode(text), (byte) => {
    const c = String.fromCharCode(byte)
    return /[A-Za-z0-9_\-!.~'()*]/.test(c)
      ? c
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
  }).join("")

/**
 * Retrofit's `@Path` (not `encoded`): percent-encodes controls, non-ASCII, `%`, `/` and
 * ` "<>^\`{}|\\?#`; keeps the rest (`+`, `&`, `=`, ... travel as they are).
 */
const retrofitPathSegment = (text: string) =>
  Array.from(new TextEncoder().encode(text), (byte) => {
    const c = String.fromCharCode(byte)
    return byte < 0x20 || byte >= 0x7f || ' "<>^`{}|\\?#%/'.includes(c)
      ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
      : c
  }).join("")

/** `java.net.URLEncoder.encode(_, UTF-8)`, the app's `String.urlEncode()`. */
const javaUrlEncode = (text: string) =>
  Array.from(new TextEncoder().encode(text), (byte) => {
    const c = String.fromCharCode(byte)
    if (c === " ") return "+"
    return /[A-Za-z0-9.\-*_]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
  }).join("")

/** `SnowbirdJoinCode.build`: the group's `uri` up to `&name=`, then the app's own name. */
const joinCode = (uri: string, groupName: string) =>
  `${uri.trim().split("&name=")[0]}&name=${javaUrlEncode(groupName)}`

interface Reply {
  readonly status: number
  readonly contentType: string | null
  readonly bytes: Uint8Array
  // biome-ignore lint/suspicious/noExplicitAny: the app's JSON, checked field by field
  readonly json: any
}

/** One request as the app makes it; `template` names the route, `path` is what is sent. */
const app = async (
  device: Device,
  method: "GET" | "POST" | "DELETE",
  template: string,
  path: string,
  body?: { readonly json: unknown } | { readonly bytes: Uint8Array },
): Promise<Reply> => {
  asked.add(`${method} ${template}`)
  const headers: Record<string, string> = { ...OKHTTP }
  let payload: Uint8Array | string | undefined
  if (body !== undefined && "json" in body) {
    headers["content-type"] = APP_JSON
    payload = JSON.stringify(body.json)
  } else if (body !== undefined) {
    // `@Headers("Content-Type: application/octet-stream")` wins over the file's own type;
    // the length is the file's (`openAssetFileDescriptor(uri).length`).
    headers["content-type"] = "application/octet-stream"
    payload = body.bytes
  } else if (method === "POST") {
    // Retrofit's POST without @Body (refresh) sends an empty body with no content type.
    payload = new Uint8Array(0)
  }
  const response = await fetch(`${device.base}${path}`, {
    method,
    headers,
    ...(payload === undefined ? {} : { body: payload as Uint8Array<ArrayBuffer> | string }),
  })
  const bytes = new Uint8Array(await response.arrayBuffer())
  const contentType = response.headers.get("content-type")
  return {
    status: response.status,
    contentType,
    bytes,
    json: contentType?.includes("json") ? JSON.parse(new TextDecoder().decode(bytes)) : undefined,
  }
}

/** What the app shows of a failure (`RetrofitAPI.parseError`): the body as a JSON string. */
const shown = (reply: Reply) => {
  expect(reply.status).toBeGreaterThanOrEqual(400)
  expect(typeof reply.json).toBe("string")
  return reply.json as string
}

/** The `SnowbirdGroupDTO` fields: `key`, and `name` and `uri` (optional to the app). */
const expectGroup = (group: unknown, key: string, name: string) => {
  expect(group).toEqual({ key, name, uri: expect.any(String) })
  return (group as { uri: string }).uri
}

const inviteTier = (uri: string) => {
  const link = parseLinkSync(uri)
  return link._tag === "GroupInvite" ? link.capability._tag : link._tag
}

const saveAppUrlOf = async (d: SpawnedDaemon) =>
  eventuallyAsync(async () => {
    const line = d.logs().find((l) => l.message === "Save app API listening (no token)")
    if (line === undefined) {
      if (d.child.exitCode !== null) throw new Error(`daemon exited:\n${d.stderr()}`)
      throw new Error("not listening yet")
    }
    return line.url as string
  }, 60_000)

/**
 * The app's start-up check (`SnowbirdService.checkFullReadiness`): `/status` must answer,
 * then `/health/ready` is polled until it answers 2xx. Returns the statuses seen.
 */
const startUpChecks = async (device: { base: string }) => {
  const checks: Array<number> = []
  for (;;) {
    asked.add("GET /status")
    const status = await fetch(`${device.base}/status`)
    expect(status.status).toBe(200)
    const live = (await status.json()) as Record<string, unknown>
    expect(live).toEqual({ status: "running", version: expect.any(String) })
    asked.add("GET /health/ready")
    const ready = await fetch(`${device.base}/health/ready`)
    checks.push(ready.status)
    if (ready.status === 200) {
      expect(await ready.json()).toEqual({ status: "ready", initialized: true })
      return checks
    }
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatch(/not ready/)
    await new Promise((r) => setTimeout(r, 250))
  }
}

const startDevice = async (node: string) => {
  const dir = tempDir()
  const d = spawnDaemon(dir, [
    "--network",
    networkFlag(testnet, node, dir),
    "--listen",
    "127.0.0.1:0",
    "--save-app-api",
    "127.0.0.1:0",
    // Files move on the app's refresh only, so each refresh says what it brought.
    "--sync-interval",
    "0",
  ])
  spawned.push(d)
  const base = await saveAppUrlOf(d)
  const checks = await startUpChecks({ base })
  return { device: { daemon: await awaitReady(d, 60_000), base }, checks }
}

let startChecks: Array<Array<number>> = []

beforeAll(async () => {
  testnet = await startTestnet({ readyTimeoutMs: 120_000 })
  const [a, b] = await Promise.all([startDevice("app-alice"), startDevice("app-bob")])
  alice = a.device
  bob = b.device
  startChecks = [a.checks, b.checks]
}, 300_000)

afterAll(async () => {
  for (const d of spawned) if (d.child.exitCode === null) d.child.kill("SIGTERM")
  await Promise.all(spawned.map((d) => d.exited))
  await testnet?.stop()
}, 90_000)

// Shared by the steps, in the order the app makes them.
let group = ""
let groupUri = ""
let aliceRepo = ""
let bobRepo = ""
let uploaded: { name: string; updated_collection_hash: string; file_hash: string }
let photoCreatedAt = ""
/** `SnowbirdFileDTO.created_at`, read with `OffsetDateTime.parse`: ISO 8601 with an offset. */
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

const groupName = "Field team · Añasco"
const photoName = "Interview 3 – Añasco (raw).jpg"
const photo = randomBytes(700_000)
const notesName = "Q&A + notes=1.txt"
const notes = randomBytes(12_345)

describe("the Save app against two daemons' --save-app-api", () => {
  it("start-up: /status answers while the network attaches, /health/ready is 503 until the daemon is ready, then 200", async () => {
    for (const checks of startChecks) {
      expect(checks[0]).toBe(503)
      expect(checks.at(-1)).toBe(200)
    }
    // The main API is untouched and separate: its token still guards it, and the app's
    // listener serves none of it.
    expect(alice.daemon.state.url).not.toBe(alice.base)
    const v1 = await fetch(`${alice.base}/v1/groups`)
    expect(v1.status).toBe(404)
    expect(typeof (await v1.json())).toBe("string")
  })

  it("creates a group, then its repo, and lists the repos (SnowbirdCreateGroupViewModel)", async () => {
    const created = await app(alice, "POST", "/api/groups", "/api/groups", {
      json: { name: groupName },
    })
    expect(created.status).toBe(200)
    group = created.json.key
    expect(group).toMatch(/^VLD0:/)
    // Retrofit's @Path leaves the key's colons as they are: that is the path the app sends.
    expect(retrofitPathSegment(group)).toBe(group)
    groupUri = expectGroup(created.json, group, groupName)
    // The manager shares a write link, never its manage secret.
    expect(inviteTier(groupUri)).toBe("WriteCapability")

    const repo = await app(
      alice,
      "POST",
      "/api/groups/{groupKey}/repos",
      `/api/groups/${retrofitPathSegment(group)}/repos`,
      { json: { name: "Alice phone" } },
    )
    expect(repo.status).toBe(200)
    aliceRepo = repo.json.key
    expect(repo.json).toEqual({ key: aliceRepo, name: "Alice phone", can_write: true })

    const repos = await app(
      alice,
      "GET",
      "/api/groups/{groupKey}/repos",
      `/api/groups/${retrofitPathSegment(group)}/repos`,
    )
    expect(repos.json).toEqual({
      repos: [{ key: aliceRepo, name: "Alice phone", can_write: true }],
    })
  })

  it("lists its groups again and again with the same uri (no member slot per listing), kept 0600 (SnowbirdGroupListViewModel, share)", async () => {
    for (let i = 0; i < 3; i++) {
      const listed = await app(alice, "GET", "/api/groups", "/api/groups")
      expect(listed.status).toBe(200)
      expect(listed.json).toEqual({ groups: [{ key: group, name: groupName, uri: groupUri }] })
    }
    const one = await app(
      alice,
      "GET",
      "/api/groups/{groupKey}",
      `/api/groups/${retrofitPathSegment(group)}`,
    )
    expectGroup(one.json, group, groupName)
    expect(one.json.uri).toBe(groupUri)
    const links = join(alice.daemon.dataDir, "save-app-links.json")
    expect(existsSync(links)).toBe(true)
    expect(statSync(links).mode & 0o777).toBe(0o600)
  })

  it("a second device joins from the QR code (the uri with the app's &name=), makes its repo and lists (SnowbirdJoinGroupViewModel)", async () => {
    const code = joinCode(groupUri, groupName)
    expect(code).toContain("&name=Field+team+%C2%B7+A%C3%B1asco")
    const joined = await app(bob, "POST", "/api/memberships", "/api/memberships", {
      json: { uri: code },
    })
    expect(joined.status).toBe(200)
    expect(Object.keys(joined.json)).toEqual(["group"])
    const bobShares = expectGroup(joined.json.group, group, groupName)
    // A member that is not a manager shares what takes no slot: a read link.
    expect(inviteTier(bobShares)).toBe("ReadCapability")

    const repo = await app(
      bob,
      "POST",
      "/api/groups/{groupKey}/repos",
      `/api/groups/${retrofitPathSegment(group)}/repos`,
      { json: { name: "Bob tablet" } },
    )
    expect(repo.status).toBe(200)
    bobRepo = repo.json.key
    expect(repo.json).toEqual({ key: bobRepo, name: "Bob tablet", can_write: true })
    const repos = await app(
      bob,
      "GET",
      "/api/groups/{groupKey}/repos",
      `/api/groups/${retrofitPathSegment(group)}/repos`,
    )
    expect(repos.json.repos).toEqual(
      expect.arrayContaining([
        { key: bobRepo, name: "Bob tablet", can_write: true },
        { key: aliceRepo, name: expect.any(String), can_write: false },
      ]),
    )
    const bobGroups = await app(bob, "GET", "/api/groups", "/api/groups")
    expect(bobGroups.json).toEqual({ groups: [{ key: group, name: groupName, uri: bobShares }] })

    // Bob holds the slot of that link now: Alice's next listing shares the next one, and
    // keeps sharing it.
    const next = (await app(alice, "GET", "/api/groups", "/api/groups")).json.groups[0].uri
    expect(next).not.toBe(groupUri)
    expect(inviteTier(next)).toBe("WriteCapability")
    expect((await app(alice, "GET", "/api/groups", "/api/groups")).json.groups[0].uri).toBe(next)

    // The app may send the same join again: the group, as it is.
    const again = await app(bob, "POST", "/api/memberships", "/api/memberships", {
      json: { uri: code },
    })
    expect([again.status, again.json.group.key]).toEqual([200, group])
  })

  it("uploads a photo with the name as Uri.encode sends it, then lists the repo's files (SnowbirdFileViewModel)", async () => {
    const path = `/api/groups/${retrofitPathSegment(group)}/repos/${retrofitPathSegment(aliceRepo)}/media`
    const upload = await app(
      alice,
      "POST",
      "/api/groups/{groupKey}/repos/{repoKey}/media/{filename}",
      `${path}/${androidUriEncode(photoName)}`,
      { bytes: photo },
    )
    expect(upload.status).toBe(200)
    expect(upload.json).toEqual({
      name: photoName,
      updated_collection_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      file_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    })
    uploaded = upload.json
    const files = await app(alice, "GET", "/api/groups/{groupKey}/repos/{repoKey}/media", path)
    expect(files.json).toEqual({
      files: [
        {
          name: photoName,
          hash: uploaded.file_hash,
          is_downloaded: true,
          size: photo.length,
          mimeType: "image/jpeg",
          created_at: expect.stringMatching(ISO_UTC),
        },
      ],
    })
    photoCreatedAt = files.json.files[0].created_at
    expect(Math.abs(Date.parse(photoCreatedAt) - Date.now())).toBeLessThan(120_000)

    // Bob writes in his own repo (he joined with a write link) and not in Alice's.
    const bobPath = `/api/groups/${retrofitPathSegment(group)}/repos/${retrofitPathSegment(bobRepo)}/media`
    const his = await app(
      bob,
      "POST",
      "/api/groups/{groupKey}/repos/{repoKey}/media/{filename}",
      `${bobPath}/${androidUriEncode(notesName)}`,
      { bytes: notes },
    )
    expect([his.status, his.json.name]).toEqual([200, notesName])
    const notHis = await app(
      bob,
      "POST",
      "/api/groups/{groupKey}/repos/{repoKey}/media/{filename}",
      `${path}/${androidUriEncode("x.jpg")}`,
      { bytes: notes },
    )
    expect(notHis.status).toBe(403)
    expect(shown(notHis)).toMatch(/own repo/)
  })

  it("refreshes the group until the other device's files are here, with every field of RefreshedRepo (SnowbirdRepoViewModel)", async () => {
    const refreshed = new Set<string>()
    const refresh = async (device: Device) => {
      const r = await app(
        device,
        "POST",
        "/api/groups/{group_id}/refresh",
        `/api/groups/${retrofitPathSegment(group)}/refresh`,
      )
      expect(r.status).toBe(200)
      expect(r.json.status).toBe("success")
      return r.json.repos as Array<Record<string, unknown>>
    }
    // The user taps refresh again until the other's upload has reached the DHT.
    const fromAlice = await eventuallyAsync(async () => {
      const repos = await refresh(bob)
      const entry = repos.find((r) => r.repo_id === aliceRepo)
      for (const name of (entry?.refreshed_files as Array<string> | undefined) ?? [])
        refreshed.add(name)
      expect(entry).toMatchObject({ all_files: [photoName] })
      expect(entry?.error).toBeUndefined()
      const own = repos.find((r) => r.repo_id === bobRepo)
      expect(own).toEqual({
        repo_id: bobRepo,
        name: "Bob tablet",
        can_write: true,
        repo_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        all_files: [notesName],
        refreshed_files: [],
      })
      return entry
    }, 120_000)
    expect(fromAlice).toEqual({
      repo_id: aliceRepo,
      name: "Alice phone",
      can_write: false,
      repo_hash: uploaded.updated_collection_hash,
      all_files: [photoName],
      refreshed_files: expect.any(Array),
    })
    expect([...refreshed]).toEqual([photoName])

    // After a refresh the app lists the repos again, then the files of the one it opens.
    const repos = await app(
      bob,
      "GET",
      "/api/groups/{groupKey}/repos",
      `/api/groups/${retrofitPathSegment(group)}/repos`,
    )
    expect(repos.json.repos).toEqual(
      expect.arrayContaining([{ key: aliceRepo, name: "Alice phone", can_write: false }]),
    )
    const files = await app(
      bob,
      "GET",
      "/api/groups/{groupKey}/repos/{repoKey}/media",
      `/api/groups/${retrofitPathSegment(group)}/repos/${retrofitPathSegment(aliceRepo)}/media`,
    )
    expect(files.json).toEqual({
      files: [
        {
          name: photoName,
          hash: uploaded.file_hash,
          is_downloaded: true,
          size: photo.length,
          mimeType: "image/jpeg",
          created_at: photoCreatedAt,
        },
      ],
    })

    // And the other way: Alice refreshes and sees Bob's notes.
    const toAlice = await eventuallyAsync(async () => {
      const entry = (await refresh(alice)).find((r) => r.repo_id === bobRepo)
      expect(entry).toMatchObject({ all_files: [notesName] })
      return entry
    }, 120_000)
    expect(toAlice).toMatchObject({ repo_id: bobRepo, name: "Bob tablet", can_write: false })
  })

  it("downloads with the name as Retrofit's @Path sends it: the same bytes, as application/octet-stream", async () => {
    const photoBack = await app(
      bob,
      "GET",
      "/api/groups/{groupKey}/repos/{repoKey}/media/{filename}",
      `/api/groups/${retrofitPathSegment(group)}/repos/${retrofitPathSegment(aliceRepo)}/media/${retrofitPathSegment(photoName)}`,
    )
    expect(photoBack.status).toBe(200)
    expect(photoBack.contentType).toBe("application/octet-stream")
    expect(Buffer.from(photoBack.bytes).equals(photo)).toBe(true)

    // `+`, `&` and `=` travel unencoded in Retrofit's path: still the file's own name.
    expect(retrofitPathSegment(notesName)).toBe("Q&A%20+%20notes=1.txt")
    const notesBack = await app(
      alice,
      "GET",
      "/api/groups/{groupKey}/repos/{repoKey}/media/{filename}",
      `/api/groups/${retrofitPathSegment(group)}/repos/${retrofitPathSegment(bobRepo)}/media/${retrofitPathSegment(notesName)}`,
    )
    expect(notesBack.status).toBe(200)
    expect(Buffer.from(notesBack.bytes).equals(notes)).toBe(true)
  })

  it("deletes the photo (the new collection hash, a JSON string); the other device's refresh drops it", async () => {
    const path = `/api/groups/${retrofitPathSegment(group)}/repos/${retrofitPathSegment(aliceRepo)}/media`
    const deleted = await app(
      alice,
      "DELETE",
      "/api/groups/{groupKey}/repos/{repoKey}/media/{filename}",
      `${path}/${androidUriEncode(photoName)}`,
    )
    expect(deleted.status).toBe(200)
    expect(deleted.json).toMatch(/^[0-9a-f]{64}$/)
    expect(deleted.json).not.toBe(uploaded.updated_collection_hash)
    const empty = await app(alice, "GET", "/api/groups/{groupKey}/repos/{repoKey}/media", path)
    expect(empty.json).toEqual({ files: [] })

    await eventuallyAsync(async () => {
      const r = await app(
        bob,
        "POST",
        "/api/groups/{group_id}/refresh",
        `/api/groups/${retrofitPathSegment(group)}/refresh`,
      )
      const entry = r.json.repos.find((x: { repo_id: string }) => x.repo_id === aliceRepo)
      expect(entry).toMatchObject({ all_files: [], repo_hash: deleted.json })
    }, 120_000)
    const gone = await app(bob, "GET", "/api/groups/{groupKey}/repos/{repoKey}/media", path)
    expect(gone.json).toEqual({ files: [] })
  })

  it("answers what the app shows on failure: an old-format link, an unknown group, a missing file", async () => {
    const legacy = await app(bob, "POST", "/api/memberships", "/api/memberships", {
      json: { uri: "save+dweb::?dht=abc&enc=def&pk=ghi&sk=jkl&name=Old+group" },
    })
    expect(legacy.status).toBe(400)
    expect(shown(legacy)).toMatch(/legacy .*ask the sender for a new link/)

    const unknown = await app(
      bob,
      "GET",
      "/api/groups/{groupKey}",
      `/api/groups/${retrofitPathSegment(aliceRepo)}`,
    )
    expect(unknown.status).toBe(404)
    shown(unknown)
    const missing = await app(
      bob,
      "GET",
      "/api/groups/{groupKey}/repos/{repoKey}/media/{filename}",
      `/api/groups/${retrofitPathSegment(group)}/repos/${retrofitPathSegment(aliceRepo)}/media/${retrofitPathSegment(photoName)}`,
    )
    expect(missing.status).toBe(404)
    shown(missing)
  })

  it("the main API is unchanged beside it: token required, and it sees the groups the app made (one backend)", async () => {
    const v1 = `${alice.daemon.state.url}/v1/groups`
    expect((await fetch(v1)).status).toBe(401)
    const listed = await fetch(v1, { headers: { authorization: `Bearer ${alice.daemon.token}` } })
    expect(listed.status).toBe(200)
    expect(await listed.json()).toEqual([
      expect.objectContaining({ key: group, name: groupName, tier: "manage" }),
    ])
  })

  it("made every call of the app's DWeb client", () => {
    expect([...asked].filter((call) => APP_CALLS.includes(call)).sort()).toEqual(
      [...APP_CALLS].sort(),
    )
  })
})
