// The Save app's requests (paths, headers, bodies as its Retrofit client sends them) against
// two backends on memory networks, each behind its own listener on 127.0.0.1.
import { mkdtemp, rm, stat } from "node:fs/promises"
import { request as httpRequest } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { type BackendShape, makeBackend, makeNodeWith, memoryKnownGroups } from "@save-dweb/backend"
import { BlobStore, layerMemory } from "@save-dweb/blob-store"
import { MemoryDhtNetwork, type MemoryDhtNetworkShape } from "@save-dweb/dht-records"
import { MemoryNetwork, type MemoryNetworkShape, makeTunnelsMemory } from "@save-dweb/tunnels"
import { parseLinkSync } from "@save-dweb/uri-scheme"
import { Context, Deferred, Effect, Layer, Schedule, type Scope } from "effect"
import { REMEMBERED_LINKS_FILE, serveSaveAppApi } from "../src/index.ts"

interface Networks {
  readonly dht: MemoryDhtNetworkShape
  readonly tunnels: MemoryNetworkShape
}

const networks: Effect.Effect<Networks> = Effect.gen(function* () {
  const dht = yield* MemoryDhtNetwork.make()
  const tunnels = Context.get(yield* Layer.build(MemoryNetwork.layer()), MemoryNetwork)
  return { dht, tunnels }
}).pipe(Effect.scoped)

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "save-app-api-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
)

const memoryBackend = (nets: Networks): Effect.Effect<BackendShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const services = yield* makeNodeWith({
      dht: yield* nets.dht.participant,
      tunnels: Effect.orDie(
        makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, nets.tunnels)),
      ),
      store: Effect.map(Layer.build(layerMemory()), (context) => Context.get(context, BlobStore)),
      known: Effect.sync(memoryKnownGroups),
    })
    return yield* makeBackend({ storageDir: "(memory)", ...services })
  })

interface Reply {
  readonly status: number
  readonly contentType: string | null
  readonly bytes: Uint8Array
  // biome-ignore lint/suspicious/noExplicitAny: the app's JSON, checked field by field
  readonly json: any
}

/** One request as the app's OkHttp client makes it (JSON as kotlinx.serialization writes it). */
const appRequest =
  (base: string) =>
  (
    method: string,
    path: string,
    body?: { json: unknown } | { bytes: Uint8Array } | { chunked: Uint8Array },
  ) =>
    Effect.promise(async (): Promise<Reply> => {
      const init: RequestInit =
        body === undefined
          ? { method }
          : "json" in body
            ? {
                method,
                headers: { "content-type": "application/json; charset=UTF-8" },
                body: JSON.stringify(body.json),
              }
            : "bytes" in body
              ? {
                  method,
                  headers: { "content-type": "application/octet-stream" },
                  body: body.bytes as Uint8Array<ArrayBuffer>,
                }
              : // OkHttp sends a body of unknown length (the content provider gave none)
                // chunked, with no content-length.
                {
                  method,
                  headers: { "content-type": "application/octet-stream" },
                  body: new Blob([body.chunked as Uint8Array<ArrayBuffer>]).stream(),
                  duplex: "half",
                }
      const response = await fetch(`${base}${path}`, init)
      const bytes = new Uint8Array(await response.arrayBuffer())
      const contentType = response.headers.get("content-type")
      const text = new TextDecoder().decode(bytes)
      return {
        status: response.status,
        contentType,
        bytes,
        json: contentType?.includes("json") ? JSON.parse(text) : undefined,
      }
    })

const device = (nets: Networks, ready = true) =>
  Effect.gen(function* () {
    const dataDir = yield* tempDir
    const backend = yield* Deferred.make<BackendShape>()
    const served = yield* Effect.orDie(
      serveSaveAppApi({ listen: { port: 0 }, backend, dataDir, version: "test" }),
    )
    const start = Effect.flatMap(memoryBackend(nets), (b) => Deferred.succeed(backend, b))
    if (ready) yield* start
    return { app: appRequest(served.url), start, dataDir, backend: Deferred.await(backend) }
  })

const photo = new Uint8Array(200_000).map((_, i) => (i * 7) % 251)

describe("the Save app against the adapter", () => {
  it.live("start-up checks answer while starting, then ready", () =>
    Effect.gen(function* () {
      const { app, start } = yield* device(yield* networks, false)
      const status = yield* app("GET", "/status")
      assert.deepStrictEqual(
        [status.status, status.json],
        [200, { status: "running", version: "test" }],
      )
      assert.deepStrictEqual((yield* app("GET", "/health")).json, { status: "OK" })
      const starting = yield* app("GET", "/health/ready")
      assert.strictEqual(starting.status, 503)
      assert.match(starting.json, /Backend not ready/)
      const early = yield* app("GET", "/api/groups")
      assert.strictEqual(early.status, 503)
      assert.strictEqual(typeof early.json, "string")
      yield* start
      const ready = yield* app("GET", "/health/ready")
      assert.deepStrictEqual(
        [ready.status, ready.json],
        [200, { status: "ready", initialized: true }],
      )
    }).pipe(Effect.scoped),
  )

  it.live("on a unix socket, made 0600, the start-up checks answer", () =>
    Effect.gen(function* () {
      const dataDir = yield* tempDir
      const socket = join(dataDir, "save-dweb.sock")
      const backend = yield* Deferred.make<BackendShape>()
      yield* Effect.orDie(
        serveSaveAppApi({ listen: { socket }, backend, dataDir, version: "test" }),
      )
      const mode = (yield* Effect.promise(() => stat(socket))).mode & 0o777
      assert.strictEqual(mode, 0o600)
      const get = (path: string) =>
        Effect.promise(
          () =>
            new Promise<{ status: number; body: unknown }>((resolve, reject) => {
              const request = httpRequest({ socketPath: socket, path }, (response) => {
                let text = ""
                response.setEncoding("utf8").on("data", (d: string) => {
                  text += d
                })
                response.on("end", () =>
                  resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }),
                )
              })
              request.on("error", reject).end()
            }),
        )
      assert.deepStrictEqual(yield* get("/status"), {
        status: 200,
        body: { status: "running", version: "test" },
      })
      assert.strictEqual((yield* get("/health/ready")).status, 503)
      yield* Effect.flatMap(memoryBackend(yield* networks), (b) => Deferred.succeed(backend, b))
      assert.deepStrictEqual(yield* get("/health/ready"), {
        status: 200,
        body: { status: "ready", initialized: true },
      })
    }).pipe(Effect.scoped),
  )

  it.live(
    "a link whose member joined and left before the next listing is not handed out again",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const alice = yield* device(nets)
        const bob = yield* device(nets)
        const created = yield* alice.app("POST", "/api/groups", { json: { name: "Brief" } })
        const joined = yield* bob.app("POST", "/api/memberships", {
          json: { uri: created.json.uri },
        })
        assert.strictEqual(joined.status, 200)
        yield* (yield* bob.backend).leaveGroup(created.json.key)
        // Bob is no longer listed, but his slot is spent: Alice's listing moves on to the next.
        const next = yield* alice.app("GET", "/api/groups").pipe(
          Effect.flatMap((listed) => {
            const uri: string = listed.json.groups[0].uri
            return uri === created.json.uri ? Effect.fail("the spent link") : Effect.succeed(uri)
          }),
          Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 }),
        )
        const tier = parseLinkSync(next)
        assert.strictEqual(
          tier._tag === "GroupInvite" ? tier.capability._tag : "",
          "WriteCapability",
        )
        assert.strictEqual((yield* alice.app("GET", "/api/groups")).json.groups[0].uri, next)
      }).pipe(Effect.scoped),
  )

  it.live("create, share, join, upload, list, refresh, download, delete", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const alice = yield* device(nets)
      const bob = yield* device(nets)

      // Create a group, then the app's repo in it (SnowbirdCreateGroupViewModel).
      const created = yield* alice.app("POST", "/api/groups", { json: { name: "Field team" } })
      assert.strictEqual(created.status, 200)
      const group: string = created.json.key
      assert.strictEqual(created.json.name, "Field team")
      const invite = parseLinkSync(created.json.uri)
      assert.strictEqual(invite._tag, "GroupInvite")
      assert.strictEqual(
        invite._tag === "GroupInvite" ? invite.capability._tag : "",
        "WriteCapability",
      )
      const repo = yield* alice.app("POST", `/api/groups/${group}/repos`, {
        json: { name: "Alice phone" },
      })
      assert.deepStrictEqual(repo.json, {
        key: repo.json.key,
        name: "Alice phone",
        can_write: true,
      })
      const aliceRepo: string = repo.json.key
      const repos = yield* alice.app("GET", `/api/groups/${group}/repos`)
      assert.deepStrictEqual(repos.json, {
        repos: [{ key: aliceRepo, name: "Alice phone", can_write: true }],
      })

      // Listing shares the same link again: no slot spent per listing; kept 0600.
      const listed = yield* alice.app("GET", "/api/groups")
      assert.deepStrictEqual(listed.json, {
        groups: [{ key: group, name: "Field team", uri: created.json.uri }],
      })
      assert.strictEqual(
        (yield* alice.app("GET", `/api/groups/${group}`)).json.uri,
        created.json.uri,
      )
      const file = yield* Effect.promise(() => stat(join(alice.dataDir, REMEMBERED_LINKS_FILE)))
      assert.strictEqual(file.mode & 0o777, 0o600)

      // Bob scans the QR code: the link with the app's `&name=` (SnowbirdJoinCode.build).
      const code = `${created.json.uri.split("&name=")[0]}&name=Field+team`
      const joined = yield* bob.app("POST", "/api/memberships", { json: { uri: code } })
      assert.strictEqual(joined.status, 200)
      assert.strictEqual(joined.json.group.key, group)
      assert.strictEqual(joined.json.group.name, "Field team")
      const bobShares = parseLinkSync(joined.json.group.uri)
      assert.strictEqual(
        bobShares._tag === "GroupInvite" ? bobShares.capability._tag : "",
        "ReadCapability",
      )
      const bobRepo = yield* bob.app("POST", `/api/groups/${group}/repos`, {
        json: { name: "Bob tablet" },
      })
      assert.strictEqual(bobRepo.json.can_write, true)
      // Bob took the slot: Alice's next listing shares a new write link.
      const after = (yield* alice.app("GET", "/api/groups")).json.groups[0].uri
      assert.notStrictEqual(after, created.json.uri)
      const again = yield* bob.app("POST", "/api/memberships", { json: { uri: code } })
      assert.deepStrictEqual([again.status, again.json.group.key], [200, group])
      // save-rust's other join route (`{url}`) and one repo by key answer the same shapes.
      const fromUrl = yield* bob.app("POST", "/api/groups/join_from_url", { json: { url: code } })
      assert.deepStrictEqual(
        [fromUrl.status, fromUrl.json.key, fromUrl.json.name],
        [200, group, "Field team"],
      )
      const oneRepo = yield* bob.app("GET", `/api/groups/${group}/repos/${repo.json.key}`)
      assert.deepStrictEqual(oneRepo.json, {
        key: repo.json.key,
        name: "Alice phone",
        can_write: false,
      })
      const bodyless = yield* bob.app("POST", "/api/memberships", { json: { url: code } })
      assert.deepStrictEqual([bodyless.status, typeof bodyless.json], [400, "string"])

      // Upload (raw body, the file name percent-encoded as Uri.encode does), then list.
      const upload = yield* alice.app(
        "POST",
        `/api/groups/${group}/repos/${aliceRepo}/media/${encodeURIComponent("photo 1 ü.jpg")}`,
        { bytes: photo },
      )
      assert.strictEqual(upload.status, 200)
      assert.strictEqual(upload.json.name, "photo 1 ü.jpg")
      assert.match(upload.json.updated_collection_hash, /^[0-9a-f]{64}$/)
      assert.match(upload.json.file_hash, /^[0-9a-f]{64}$/)
      const media = yield* alice.app("GET", `/api/groups/${group}/repos/${aliceRepo}/media`)
      assert.deepStrictEqual(media.json, {
        files: [
          {
            name: "photo 1 ü.jpg",
            hash: upload.json.file_hash,
            is_downloaded: true,
            size: photo.length,
            mimeType: "image/jpeg",
            created_at: media.json.files[0].created_at,
          },
        ],
      })
      // `OffsetDateTime.parse` wants ISO 8601 with an offset; the time is the upload's.
      assert.match(media.json.files[0].created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      assert.isBelow(Math.abs(Date.parse(media.json.files[0].created_at) - Date.now()), 60_000)

      // A body of unknown length arrives chunked; a name whose extension says nothing has
      // no mimeType (the app takes it for application/octet-stream).
      const notes = photo.subarray(0, 70_000)
      const chunked = yield* alice.app(
        "POST",
        `/api/groups/${group}/repos/${aliceRepo}/media/field%20notes.x3d`,
        { chunked: notes },
      )
      assert.deepStrictEqual([chunked.status, chunked.json.name], [200, "field notes.x3d"])
      const both = (yield* alice.app("GET", `/api/groups/${group}/repos/${aliceRepo}/media`)).json
        .files
      const noted = both.find((f: { name: string }) => f.name === "field notes.x3d")
      assert.deepStrictEqual([noted.size, "mimeType" in noted], [notes.length, false])
      const notesBack = yield* alice.app(
        "GET",
        `/api/groups/${group}/repos/${aliceRepo}/media/field%20notes.x3d`,
      )
      assert.deepStrictEqual(notesBack.bytes, notes)
      // Deleted again: the collection's root is the answer, as a JSON string.
      const root: string = (yield* alice.app(
        "DELETE",
        `/api/groups/${group}/repos/${aliceRepo}/media/field%20notes.x3d`,
      )).json

      // Bob refreshes the group, lists Alice's repo and downloads the photo.
      const bobRepos = (yield* bob.app("GET", `/api/groups/${group}/repos`)).json.repos
      assert.deepStrictEqual(
        bobRepos.find((r: { key: string }) => r.key === aliceRepo),
        { key: aliceRepo, name: "Alice phone", can_write: false },
      )
      const refresh = yield* bob.app("POST", `/api/groups/${group}/refresh`)
      assert.strictEqual(refresh.json.status, "success")
      const fromAlice = refresh.json.repos.find((r: { repo_id: string }) => r.repo_id === aliceRepo)
      assert.deepStrictEqual(fromAlice, {
        repo_id: aliceRepo,
        name: "Alice phone",
        can_write: false,
        repo_hash: root,
        all_files: ["photo 1 ü.jpg"],
        refreshed_files: ["photo 1 ü.jpg"],
      })
      const seen = yield* bob.app("GET", `/api/groups/${group}/repos/${aliceRepo}/media`)
      assert.strictEqual(seen.json.files[0].is_downloaded, true)
      const download = yield* bob.app(
        "GET",
        `/api/groups/${group}/repos/${aliceRepo}/media/${encodeURIComponent("photo 1 ü.jpg")}`,
      )
      assert.strictEqual(download.status, 200)
      assert.strictEqual(download.contentType, "application/octet-stream")
      assert.deepStrictEqual(download.bytes, photo)

      // What the app shows when something fails: a JSON string body.
      const notHis = yield* bob.app("POST", `/api/groups/${group}/repos/${aliceRepo}/media/x.jpg`, {
        bytes: photo,
      })
      assert.strictEqual(notHis.status, 403)
      assert.match(notHis.json, /own repo/)
      const legacy = yield* bob.app("POST", "/api/memberships", {
        json: { uri: "save+dweb::?dht=abc&enc=def&pk=ghi&sk=jkl&name=Old" },
      })
      assert.strictEqual(legacy.status, 400)
      assert.match(legacy.json, /legacy/)
      const unknown = yield* bob.app("GET", `/api/groups/${aliceRepo}`)
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(typeof unknown.json, "string")
      const nowhere = yield* bob.app("GET", "/api/nowhere")
      assert.deepStrictEqual([nowhere.status, typeof nowhere.json], [404, "string"])

      // Alice deletes the photo: the answer is the new collection hash, as a JSON string.
      const deleted = yield* alice.app(
        "DELETE",
        `/api/groups/${group}/repos/${aliceRepo}/media/${encodeURIComponent("photo 1 ü.jpg")}`,
      )
      assert.strictEqual(deleted.status, 200)
      assert.strictEqual(typeof deleted.json, "string")
      assert.notStrictEqual(deleted.json, upload.json.updated_collection_hash)
      const empty = yield* alice.app("GET", `/api/groups/${group}/repos/${aliceRepo}/media`)
      assert.deepStrictEqual(empty.json, { files: [] })

      // Closing a group here keeps it known; it opens again on the next call.
      assert.deepStrictEqual((yield* alice.app("DELETE", `/api/groups/${group}`)).json, {})
      assert.strictEqual((yield* alice.app("GET", `/api/groups/${group}`)).json.key, group)
    }).pipe(Effect.scoped),
  )
})
