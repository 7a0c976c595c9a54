// Contract tests of the server over backends on memory networks: every route through the
// typed client and through raw HTTP, auth, typed 4xx for bad input, ranges, limits.
import { stat, writeFile } from "node:fs/promises"
import { connect } from "node:net"
import { join } from "node:path"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import type { BackendShape } from "@save-dweb/backend"
import { makeClient, type ServerEvent } from "@save-dweb/client"
import { BackupDescriptor, formatLink, makeSecretKey } from "@save-dweb/uri-scheme"
import { Context, Effect, Fiber, Layer, Option, Queue, Stream } from "effect"
import { HttpClient } from "effect/http"
import { serve } from "../src/index.ts"
import {
  bytesOf,
  failureOf,
  memoryBackend,
  networks,
  node,
  pattern,
  raw,
  tempDir,
} from "./support.ts"

const UNKNOWN = "VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const json = (token: string, body: unknown, method = "POST"): RequestInit => ({
  method,
  headers: { ...bearer(token), "content-type": "application/json" },
  body: JSON.stringify(body),
})
const errorOf = (text: string) => JSON.parse(text) as { error: string; message: string }

/** Every route with a sample request: auth must refuse each without a good token. */
const routes = (group: string): ReadonlyArray<readonly [string, string, RequestInit?]> => {
  const file = `/v1/groups/${encodeURIComponent(group)}/repos/mine/files/a.bin`
  const g = `/v1/groups/${encodeURIComponent(group)}`
  const body = (b: unknown): RequestInit => ({
    body: JSON.stringify(b),
    headers: { "content-type": "application/json" },
  })
  return [
    ["GET", "/v1/status"],
    ["GET", "/v1/events"],
    ["GET", "/v1/groups"],
    ["POST", "/v1/groups", body({ name: "x" })],
    ["POST", "/v1/groups/join", body({ link: "x" })],
    ["GET", g],
    ["DELETE", g],
    ["POST", `${g}/forget`],
    ["POST", `${g}/invites`, body({ tier: "read" })],
    ["POST", `${g}/sync`],
    ["GET", `${g}/members`],
    ["GET", `${g}/repos`],
    ["GET", `${g}/repos/mine/files`],
    ["PUT", file, { body: "abc" }],
    ["GET", file],
    ["DELETE", file],
    ["POST", `${file}/pin`],
    ["DELETE", `${file}/pin`],
    ["POST", "/v1/pairing/links", body({})],
    ["POST", "/v1/pairing", body({ link: "x" })],
    ["POST", `${g}/backups`, body({ link: "x" })],
    ["GET", `${g}/backups`],
    ["POST", `${g}/backups/remove`, body({ link: "x" })],
    ["DELETE", `${g}/backups/a-server`],
    ["POST", "/v1/backups/groups", body({ link: "x" })],
    ["POST", "/v1/sign-in/codes"],
  ]
}

describe("the API over a memory backend", () => {
  it.live(
    "health answers without a token; every other route, the OpenAPI document and /docs refuse a missing or wrong one",
    () =>
      Effect.gen(function* () {
        const a = yield* node(yield* networks)
        const health = yield* raw(`${a.served.url}/v1/health`)
        assert.strictEqual(health.status, 200)
        assert.deepStrictEqual(JSON.parse(health.text), { ok: true, api: "v1" })
        assert.deepStrictEqual(yield* a.client.health, { ok: true, api: "v1" })
        const g = yield* a.client.groups.create({ name: "Guarded" })
        const described: ReadonlyArray<readonly [string, string, RequestInit?]> = [
          ["GET", "/openapi.json"],
          ["GET", "/docs"],
        ]
        for (const [method, path, init] of [...routes(g.key), ...described]) {
          for (const headers of [
            {},
            bearer("wrong"),
            bearer(`${a.served.token}x`),
            { authorization: a.served.token },
          ]) {
            const answer = yield* raw(`${a.served.url}${path}`, {
              ...init,
              method,
              headers: { ...(init?.headers as Record<string, string>), ...headers },
            })
            assert.strictEqual(answer.status, 401, `${method} ${path}`)
            assert.deepStrictEqual(errorOf(answer.text).error, "Unauthorized")
          }
        }
        // The group is untouched by all of that.
        assert.deepStrictEqual(
          (yield* a.client.groups.list).map((s) => s.key),
          [g.key],
        )
        const anonymous = yield* makeClient({ baseUrl: a.served.url })
        assert.strictEqual((yield* failureOf(anonymous.groups.list))._tag, "Unauthorized")
        assert.strictEqual((yield* failureOf(anonymous.openapi))._tag, "Unauthorized")
        assert.strictEqual((yield* failureOf(anonymous.docs))._tag, "Unauthorized")
        const wrong = yield* makeClient({ baseUrl: a.served.url, token: "nope" })
        assert.strictEqual((yield* failureOf(wrong.status))._tag, "Unauthorized")
        assert.strictEqual((yield* failureOf(wrong.openapi))._tag, "Unauthorized")
        assert.strictEqual((yield* failureOf(wrong.docs))._tag, "Unauthorized")
      }).pipe(Effect.scoped),
  )

  it.live("groups: create, get, list, invite per tier, join, members, repos, sync, leave", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* node(nets)
      const b = yield* node(nets)
      const created = yield* a.client.groups.create({
        name: "Family",
        memberName: "Alice",
        sourcePolicy: "owner-only",
      })
      assert.strictEqual(created.name, "Family")
      assert.strictEqual(created.tier, "manage")
      assert.strictEqual(created.slot, 0)
      assert.strictEqual(created.sourcePolicy, "owner-only")
      assert.strictEqual(created.transport, "private")
      assert.isNotNull(created.repo)
      assert.deepStrictEqual(yield* a.client.groups.get(created.key), created)
      assert.deepStrictEqual(yield* a.client.groups.list, [
        { key: created.key, name: "Family", tier: "manage", loaded: true },
      ])
      for (const tier of ["replicate", "read"] as const) {
        assert.match(yield* a.client.groups.invite(created.key, tier), new RegExp(`cap=${tier}`))
      }
      const link = yield* a.client.groups.invite(created.key, "write")
      const joined = yield* b.client.groups.join({ link, memberName: "Bob" })
      assert.strictEqual(joined.tier, "write")
      assert.strictEqual(joined.slot, 1)
      assert.strictEqual(joined.name, "Family")
      const members = yield* b.client.groups.members(created.key)
      assert.deepStrictEqual(
        members.map((m) => [m.slot, m.name, m.mine]),
        [
          [0, "Alice", false],
          [1, "Bob", true],
        ],
      )
      const repos = yield* a.client.groups.repos(created.key)
      assert.deepStrictEqual(repos.map((r) => [r.name, r.memberName, r.mine]).sort(), [
        ["Alice", "Alice", true],
        ["Bob", "Bob", false],
      ])
      const report = yield* b.client.groups.sync(created.key)
      assert.deepStrictEqual(report.failed, [])
      // Reachability: Bob answers over his route; a slot nobody holds is not reachable,
      // which is an answer, not an error.
      const bob = yield* a.client.groups.reachability(created.key, 1)
      assert.deepStrictEqual([bob.slot, bob.reachable, bob.reason], [1, true, null])
      assert.isAtLeast(bob.roundTripMs ?? -1, 0)
      const nobody = yield* a.client.groups.reachability(created.key, 7)
      assert.deepStrictEqual([nobody.reachable, nobody.roundTripMs], [false, null])
      assert.match(nobody.reason ?? "", /no repo in this slot/)
      // The manager changes the transport; a member may not.
      assert.strictEqual(
        (yield* a.client.groups.setTransport(created.key, "direct")).transport,
        "direct",
      )
      assert.strictEqual((yield* b.client.groups.get(created.key)).transport, "direct")
      const refused = yield* failureOf(b.client.groups.setTransport(created.key, "private"))
      assert.strictEqual(refused._tag, "Forbidden")
      // Bob leaves: Alice sees one member, Bob knows no group.
      yield* b.client.groups.leave(created.key)
      assert.isFalse((yield* a.client.groups.reachability(created.key, 1)).reachable)
      assert.deepStrictEqual(yield* b.client.groups.list, [])
      assert.deepStrictEqual(
        (yield* a.client.groups.members(created.key)).map((m) => m.name),
        ["Alice"],
      )
      // Joining a known group is a conflict.
      const again = yield* a.client.groups
        .join({ link: yield* a.client.groups.invite(created.key, "read") })
        .pipe(failureOf)
      assert.strictEqual(again._tag, "Conflict")
    }).pipe(Effect.scoped),
  )

  it.live(
    "copies: a file's holders off this device, the group summary and the target, over HTTP",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const a = yield* node(nets)
        const b = yield* node(nets)
        const created = yield* a.client.groups.create({ name: "Footage", memberName: "Alice" })
        yield* b.client.groups.join({
          link: yield* a.client.groups.invite(created.key, "write"),
          memberName: "Bob",
        })
        yield* a.client.files.upload(created.key, "clip.mp4", pattern(50_000, 1))
        assert.strictEqual(yield* a.client.groups.copiesTarget(created.key), null)
        assert.strictEqual(yield* a.client.groups.setCopiesTarget(created.key, 1), 1)
        const none = yield* a.client.files.copies(created.key, "mine", "clip.mp4")
        assert.deepStrictEqual(
          [none.verified, none.target, none.reached, none.copies],
          [0, 1, false, []],
        )
        const seen: Array<ServerEvent> = []
        const reaching = yield* (yield* a.client.subscribe).pipe(
          Stream.tap((e) => Effect.sync(() => void seen.push(e))),
          Stream.takeUntil((e) => e._tag === "CopiesReached"),
          Stream.runDrain,
          Effect.forkScoped,
        )
        // A member without a copy has nothing to check proofs against: told to pin it first.
        const withoutCopy = yield* Effect.flip(
          b.client.files.copies(created.key, created.repo ?? "", "clip.mp4"),
        )
        assert.strictEqual(withoutCopy._tag, "Conflict")
        assert.match(withoutCopy.message, /needs a copy of it on this device.*pin it first/)
        yield* b.client.files.pin(created.key, created.repo ?? "", "clip.mp4")
        const one = yield* a.client.files.copies(created.key, "mine", "clip.mp4")
        assert.deepStrictEqual(
          one.copies.map((c) => [c.kind, c.name, c.status, c.how]),
          [["member", "Bob", "verified", "proof"]],
        )
        assert.strictEqual(one.reached, true)
        yield* Fiber.join(reaching).pipe(Effect.timeout("10 seconds"))
        assert.deepStrictEqual(
          seen.filter((e) => e._tag === "CopiesReached"),
          [
            {
              _tag: "CopiesReached",
              group: created.key,
              repo: created.repo ?? "",
              name: "clip.mp4",
              copies: 1,
              target: 1,
            },
          ],
        )
        // Another member with a copy asks too: the owner is one of its copies elsewhere.
        const fromBob = yield* b.client.files.copies(created.key, created.repo ?? "", "clip.mp4")
        assert.deepStrictEqual(
          fromBob.copies.map((c) => [c.kind, c.name, c.status, c.how]),
          [["member", "Alice", "verified", "proof"]],
        )
        assert.deepStrictEqual(yield* a.client.groups.copies(created.key, 2), {
          group: created.key,
          atLeast: 2,
          files: 1,
          safe: 0,
          unknown: 0,
        })
        assert.strictEqual((yield* a.client.groups.copies(created.key)).safe, 1)
        assert.strictEqual(yield* a.client.groups.setCopiesTarget(created.key, null), null)
      }).pipe(Effect.scoped),
  )

  it.live(
    "members: the manager removes one (the group's key changes, the other member follows, both told on events); renames",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const [a, b, c] = [yield* node(nets), yield* node(nets), yield* node(nets)]
        const g = yield* a.client.groups.create({ name: "Desk", memberName: "Alice" })
        const bob = yield* b.client.groups.join({
          link: yield* a.client.groups.invite(g.key, "write"),
          memberName: "Bob",
        })
        const carol = yield* c.client.groups.join({
          link: yield* a.client.groups.invite(g.key, "write"),
          memberName: "Carol",
        })
        const seen: Array<ServerEvent> = []
        const listening = yield* (yield* b.client.subscribe).pipe(
          Stream.tap((e) => Effect.sync(() => void seen.push(e))),
          Stream.takeUntil(() => seen.some((e) => e._tag === "GroupMoved")),
          Stream.runDrain,
          Effect.forkScoped,
        )
        // Only the manager removes; nobody removes the manager.
        assert.strictEqual(
          (yield* failureOf(b.client.groups.removeMember(g.key, carol.slot as number)))._tag,
          "Forbidden",
        )
        assert.strictEqual(
          (yield* failureOf(a.client.groups.removeMember(g.key, 0)))._tag,
          "BadRequest",
        )
        const removed = yield* a.client.groups.removeMember(g.key, carol.slot as number)
        assert.strictEqual(removed.previous, g.key)
        assert.notStrictEqual(removed.group, g.key)
        yield* Fiber.join(listening).pipe(Effect.timeout("10 seconds"))
        assert.deepInclude(seen, { _tag: "GroupMoved", group: g.key, to: removed.group })
        // The old key still finds the group; the members are Alice and Bob.
        assert.strictEqual((yield* b.client.groups.get(g.key)).key, removed.group)
        assert.deepStrictEqual(
          (yield* a.client.groups.members(removed.group)).map((m) => m.name),
          ["Alice", "Bob"],
        )
        // Raw: DELETE on the member's path, with a slot that is not a number refused.
        const rawRemove = yield* raw(`${a.served.url}/v1/groups/${removed.group}/members/x`, {
          method: "DELETE",
          headers: bearer(a.served.token),
        })
        assert.strictEqual(rawRemove.status, 400)

        const renamed = yield* a.client.groups.rename(removed.group, "Newsdesk")
        assert.strictEqual(renamed.name, "Newsdesk")
        assert.strictEqual((yield* b.client.groups.get(removed.group)).name, "Newsdesk")
        assert.strictEqual(
          (yield* failureOf(b.client.groups.rename(removed.group, "Mine")))._tag,
          "Forbidden",
        )
        yield* b.client.groups.renameMember(removed.group, bob.slot as number, "Robert")
        assert.deepStrictEqual(
          (yield* a.client.groups.members(removed.group)).map((m) => m.name),
          ["Alice", "Robert"],
        )
        assert.strictEqual(
          (yield* failureOf(b.client.groups.renameMember(removed.group, 0, "Boss")))._tag,
          "Forbidden",
        )
        assert.strictEqual(
          (yield* failureOf(a.client.groups.rename(removed.group, "bad\u202Ename")))._tag,
          "InvalidName",
        )
      }).pipe(Effect.scoped),
  )

  it.live("status reports groups known and loaded (no Veilid or Iroh on memory layers)", () =>
    Effect.gen(function* () {
      const a = yield* node(yield* networks)
      yield* a.client.groups.create({ name: "One" })
      assert.deepStrictEqual(yield* a.client.status, {
        veilid: null,
        iroh: null,
        groups: { known: 1, loaded: 1 },
      })
    }).pipe(Effect.scoped),
  )

  it.live(
    "files: upload streamed and from a path, list with status, download identical, pin, unpin, delete",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const a = yield* node(nets)
        const b = yield* node(nets)
        const g = yield* a.client.groups.create({ name: "Files", memberName: "Alice" })
        yield* b.client.groups.join({ link: yield* a.client.groups.invite(g.key, "read") })
        const bytes = pattern(300_000)
        const progress: Array<number> = []
        const chunks = Stream.fromIterable([bytes.subarray(0, 100_000), bytes.subarray(100_000)])
        const up = yield* a.client.files.upload(g.key, "photo one.jpg", chunks, {
          onProgress: (sent) => Effect.sync(() => void progress.push(sent)),
        })
        assert.strictEqual(up.name, "photo one.jpg")
        assert.strictEqual(up.size, bytes.length)
        assert.strictEqual(up.owner, "Alice")
        assert.strictEqual(up.status, "local")
        assert.deepStrictEqual(progress, [100_000, 300_000])
        const path = join(yield* tempDir, "from-disk.bin")
        const onDisk = pattern(50_000, 3)
        yield* Effect.promise(() => writeFile(path, onDisk))
        yield* a.client.files.upload(g.key, "from-disk.bin", path)

        const repo = g.repo as string
        assert.deepStrictEqual(
          (yield* b.client.files.list(g.key, repo)).map((f) => [f.name, f.size, f.status]),
          [
            ["from-disk.bin", onDisk.length, "remote-only"],
            ["photo one.jpg", bytes.length, "remote-only"],
          ],
        )
        const down = yield* b.client.files.download(g.key, repo, "photo one.jpg")
        assert.strictEqual(down.size, bytes.length)
        assert.deepStrictEqual(yield* bytesOf(down.bytes), bytes)
        assert.deepStrictEqual(
          yield* bytesOf((yield* a.client.files.download(g.key, "mine", "from-disk.bin")).bytes),
          onDisk,
        )
        const statusOf = (name: string) =>
          Effect.map(b.client.files.list(g.key, repo), (all) => {
            const found = all.find((f) => f.name === name)
            return [found?.status, found?.pinned]
          })
        assert.deepStrictEqual(yield* statusOf("photo one.jpg"), ["local", true])
        yield* b.client.files.unpin(g.key, repo, "photo one.jpg")
        assert.deepStrictEqual(yield* statusOf("photo one.jpg"), ["remote-only", false])
        yield* b.client.files.pin(g.key, repo, "from-disk.bin")
        assert.deepStrictEqual(yield* statusOf("from-disk.bin"), ["local", true])
        assert.isFalse((yield* a.client.files.list(g.key, "mine"))[0]?.pinned)

        yield* a.client.files.delete(g.key, "photo one.jpg")
        assert.strictEqual(
          (yield* failureOf(a.client.files.download(g.key, "mine", "photo one.jpg")))._tag,
          "FileNotFound",
        )
        assert.deepStrictEqual(
          (yield* a.client.files.list(g.key, "mine")).map((f) => f.name),
          ["from-disk.bin"],
        )
      }).pipe(Effect.scoped),
  )

  it.live("raw HTTP: PUT any content type, GET whole and ranged, names percent-encoded", () =>
    Effect.gen(function* () {
      const a = yield* node(yield* networks)
      const g = yield* a.client.groups.create({ name: "Raw" })
      const name = "notes #1 ü%?.txt"
      const url = `${a.served.url}/v1/groups/${encodeURIComponent(g.key)}/repos/mine/files/${encodeURIComponent(name)}`
      const bytes = pattern(10_000)
      const put = yield* raw(url, {
        method: "PUT",
        headers: { ...bearer(a.served.token), "content-type": "text/plain" },
        body: bytes,
      })
      assert.strictEqual(put.status, 201)
      assert.strictEqual(JSON.parse(put.text).name, name)
      const whole = yield* raw(url, { headers: bearer(a.served.token) })
      assert.strictEqual(whole.status, 200)
      assert.strictEqual(whole.headers.get("content-length"), "10000")
      assert.strictEqual(whole.headers.get("accept-ranges"), "bytes")
      assert.deepStrictEqual(whole.body, bytes)

      const ranged = (range: string) => raw(url, { headers: { ...bearer(a.served.token), range } })
      const cases = [
        ["bytes=0-99", 0, 99],
        ["bytes=9990-", 9990, 9999],
        ["bytes=-10", 9990, 9999],
        ["bytes=5000-20000", 5000, 9999],
        ["bytes=9999-9999", 9999, 9999],
      ] as const
      for (const [header, start, end] of cases) {
        const part = yield* ranged(header)
        assert.strictEqual(part.status, 206, header)
        assert.strictEqual(part.headers.get("content-range"), `bytes ${start}-${end}/10000`)
        assert.strictEqual(part.headers.get("content-length"), String(end - start + 1))
        assert.deepStrictEqual(part.body, bytes.subarray(start, end + 1), header)
      }
      for (const header of ["bytes=10000-", "bytes=20000-30000", "bytes=-0"]) {
        const past = yield* ranged(header)
        assert.strictEqual(past.status, 416, header)
        assert.strictEqual(past.headers.get("content-range"), "bytes */10000")
        assert.strictEqual(errorOf(past.text).error, "RangeNotSatisfiable")
      }
      for (const header of ["bytes=0-1,4-5", "items=0-1", "bytes=7-3"]) {
        const ignored = yield* ranged(header)
        assert.strictEqual(ignored.status, 200, header)
        assert.strictEqual(ignored.body.length, 10_000)
      }
      // The typed client's ranges.
      const part = yield* a.client.files.download(g.key, "mine", name, {
        range: { start: 100, end: 199 },
      })
      assert.deepStrictEqual([part.size, part.start, part.end], [10_000, 100, 199])
      assert.deepStrictEqual(yield* bytesOf(part.bytes), bytes.subarray(100, 200))
      const tail = yield* a.client.files.download(g.key, "mine", name, { range: { start: 9000 } })
      assert.deepStrictEqual(yield* bytesOf(tail.bytes), bytes.subarray(9000))
      const past = yield* failureOf(
        a.client.files.download(g.key, "mine", name, { range: { start: 10_000 } }),
      )
      assert.strictEqual(past._tag, "RangeNotSatisfiable")
      // An empty file: whole is 200 with no bytes, any range is unsatisfiable.
      yield* a.client.files.upload(g.key, "empty", Stream.empty)
      const empty = yield* a.client.files.download(g.key, "mine", "empty")
      assert.strictEqual(empty.size, 0)
      assert.deepStrictEqual(yield* bytesOf(empty.bytes), new Uint8Array(0))
    }).pipe(Effect.scoped),
  )

  it.live("bad input gets typed 4xx: link, group, repo, file name, body, route", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* node(nets)
      const b = yield* node(nets)
      const g = yield* a.client.groups.create({ name: "Strict" })
      const tagOf = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.map(failureOf(effect), (e) => e._tag)
      assert.strictEqual(
        yield* tagOf(a.client.groups.join({ link: "save+dweb:nonsense" })),
        "InvalidLink",
      )
      assert.strictEqual(
        yield* tagOf(a.client.groups.join({ link: "save+dweb:?dht=a&enc=b&pk=c&sk=d" })),
        "InvalidLink",
      )
      assert.strictEqual(yield* tagOf(a.client.groups.get(UNKNOWN)), "UnknownGroup")
      assert.strictEqual(yield* tagOf(a.client.groups.get("not a key")), "UnknownGroup")
      assert.strictEqual(yield* tagOf(a.client.files.list(UNKNOWN, "mine")), "UnknownGroup")
      assert.strictEqual(yield* tagOf(a.client.files.list(g.key, UNKNOWN)), "UnknownRepo")
      assert.strictEqual(yield* tagOf(a.client.groups.create({ name: "" })), "InvalidName")
      assert.strictEqual(yield* tagOf(a.client.groups.create({ name: "a\u0007b" })), "InvalidName")
      for (const name of ["a/b", "..", ".", "x\u0000y", "a\\b", "é".normalize("NFD")]) {
        assert.strictEqual(
          yield* tagOf(a.client.files.upload(g.key, name, Stream.make(new Uint8Array(3)))),
          "InvalidFileName",
          JSON.stringify(name),
        )
      }
      const fileUrl = (name: string) =>
        `${a.served.url}/v1/groups/${encodeURIComponent(g.key)}/repos/mine/files/${name}`
      const slash = yield* raw(fileUrl("a%2Fb"), {
        method: "PUT",
        headers: bearer(a.served.token),
        body: "x",
      })
      assert.strictEqual(slash.status, 400)
      assert.strictEqual(errorOf(slash.text).error, "InvalidFileName")
      assert.strictEqual(
        yield* tagOf(a.client.files.download(g.key, "mine", "missing.bin")),
        "FileNotFound",
      )
      // Bodies that do not decode.
      const post = (path: string, body: string) =>
        raw(`${a.served.url}${path}`, {
          method: "POST",
          headers: { ...bearer(a.served.token), "content-type": "application/json" },
          body,
        })
      for (const [path, body] of [
        ["/v1/groups", "{"],
        ["/v1/groups", "{}"],
        ["/v1/groups", JSON.stringify({ name: 3 })],
        ["/v1/groups", JSON.stringify({ name: "x", sourcePolicy: "nobody" })],
        ["/v1/groups", JSON.stringify({ name: "x", transport: "carrier-pigeon" })],
        [`/v1/groups/${encodeURIComponent(g.key)}/invites`, JSON.stringify({ tier: "manage" })],
        ["/v1/pairing", JSON.stringify({})],
      ] as const) {
        const answer = yield* post(path, body)
        assert.strictEqual(answer.status, 400, `${path} ${body}`)
        assert.strictEqual(errorOf(answer.text).error, "BadRequest")
      }
      const notFound = yield* raw(`${a.served.url}/v1/nothing`, { headers: bearer(a.served.token) })
      assert.strictEqual(notFound.status, 404)
      assert.strictEqual(errorOf(notFound.text).error, "NotFound")
      // Capability: a read member cannot upload, invite to write, or delete; nobody writes another's repo.
      yield* b.client.groups.join({ link: yield* a.client.groups.invite(g.key, "read") })
      assert.strictEqual(
        yield* tagOf(b.client.files.upload(g.key, "x.bin", Stream.make(new Uint8Array(1)))),
        "Forbidden",
      )
      assert.strictEqual(yield* tagOf(b.client.groups.invite(g.key, "write")), "Forbidden")
      assert.strictEqual(yield* tagOf(b.client.files.delete(g.key, "x.bin")), "Forbidden")
      const other = yield* raw(
        `${b.served.url}/v1/groups/${encodeURIComponent(g.key)}/repos/${encodeURIComponent(g.repo as string)}/files/x.bin`,
        { method: "PUT", headers: bearer(b.served.token), body: "x" },
      )
      assert.strictEqual(other.status, 403)
      assert.strictEqual(errorOf(other.text).error, "Forbidden")
      // Pairing: nothing to move for a read member, a damaged link, a group already here.
      assert.strictEqual(yield* tagOf(b.client.pairing.makeLink()), "Conflict")
      assert.strictEqual(
        yield* tagOf(b.client.pairing.pair("save+dweb:pair?v=1&data=AQ")),
        "InvalidLink",
      )
      assert.strictEqual(
        yield* tagOf(b.client.pairing.pair(yield* a.client.pairing.makeLink([g.key]))),
        "Conflict",
      )
      assert.strictEqual(yield* tagOf(a.client.pairing.makeLink([UNKNOWN])), "UnknownGroup")
    }).pipe(Effect.scoped),
  )

  it.live(
    "a link with a record key of an unknown crypto kind is a 400 InvalidLink naming the parameter and the kind",
    () =>
      Effect.gen(function* () {
        const a = yield* node(yield* networks)
        const g = yield* a.client.groups.create({ name: "Kinds" })
        const part = "A".repeat(43)
        const cases = [
          [
            "/v1/groups/join",
            `save+dweb:invite?v=1&cap=read&group=VLD9:${part}:${part}&secret=${part}`,
            /group: crypto kind VLD9 is not supported/,
          ],
          [
            `/v1/groups/${encodeURIComponent(g.key)}/backups`,
            `save+dweb:backup?v=1&record=ZZZ1:${part}&access=${part}`,
            /record: crypto kind ZZZ1 is not supported/,
          ],
        ] as const
        for (const [path, link, names] of cases) {
          const answer = yield* raw(`${a.served.url}${path}`, json(a.served.token, { link }))
          assert.strictEqual(answer.status, 400, answer.text)
          const error = errorOf(answer.text)
          assert.strictEqual(error.error, "InvalidLink")
          assert.match(error.message, names)
        }
      }).pipe(Effect.scoped),
  )

  it.live("oversized bodies get 413: a declared length, a chunked upload, a large JSON body", () =>
    Effect.gen(function* () {
      const a = yield* node(yield* networks, { maxUploadBytes: 100_000, maxJsonBytes: 1000 })
      const g = yield* a.client.groups.create({ name: "Limits" })
      const url = `${a.served.url}/v1/groups/${encodeURIComponent(g.key)}/repos/mine/files/big.bin`
      const declared = yield* raw(url, {
        method: "PUT",
        headers: bearer(a.served.token),
        body: new Uint8Array(100_001),
      })
      assert.strictEqual(declared.status, 413)
      assert.strictEqual(errorOf(declared.text).error, "PayloadTooLarge")
      // Chunked (no Content-Length): refused once it passes the limit; nothing is written.
      const chunks = Stream.fromIterable(Array.from({ length: 30 }, () => new Uint8Array(10_000)))
      assert.strictEqual(
        (yield* failureOf(a.client.files.upload(g.key, "big.bin", chunks)))._tag,
        "PayloadTooLarge",
      )
      assert.deepStrictEqual(yield* a.client.files.list(g.key, "mine"), [])
      // At the limit it is accepted.
      const fits = yield* a.client.files.upload(
        g.key,
        "fits.bin",
        Stream.make(new Uint8Array(100_000)),
      )
      assert.strictEqual(fits.size, 100_000)
      const bigJson = yield* raw(
        `${a.served.url}/v1/groups`,
        json(a.served.token, { name: "x".repeat(5000) }),
      )
      assert.strictEqual(bigJson.status, 413)
      assert.strictEqual(errorOf(bigJson.text).error, "PayloadTooLarge")
    }).pipe(Effect.scoped),
  )

  it.live("a failing upload body fails the upload with its own error and writes nothing", () =>
    Effect.gen(function* () {
      const a = yield* node(yield* networks)
      const g = yield* a.client.groups.create({ name: "Broken" })
      const broken = Stream.concat(
        Stream.make(new Uint8Array(1000)),
        Stream.fail({ _tag: "SourceBroke" as const }),
      )
      const error = yield* failureOf(a.client.files.upload(g.key, "half.bin", broken))
      assert.strictEqual(error._tag, "SourceBroke")
      assert.deepStrictEqual(yield* a.client.files.list(g.key, "mine"), [])
    }).pipe(Effect.scoped),
  )

  it.live(
    "events: a client sees groups open, its own file change, a member join and sync progress",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const a = yield* node(nets)
        const b = yield* node(nets)
        const seen: Array<ServerEvent> = []
        const wanted = (e: ReadonlyArray<ServerEvent>) =>
          ["GroupOpened", "FilesChanged", "MembersChanged", "SyncDone"].every((t) =>
            e.some((x) => x._tag === t),
          )
        const listening = yield* (yield* b.client.subscribe).pipe(
          Stream.tap((e) => Effect.sync(() => void seen.push(e))),
          Stream.takeUntil(() => wanted(seen)),
          Stream.runDrain,
          Effect.forkScoped,
        )
        const g = yield* a.client.groups.create({ name: "Live", memberName: "Alice" })
        yield* a.client.files.upload(g.key, "a.bin", Stream.make(pattern(2000)))
        yield* b.client.groups.join({ link: yield* a.client.groups.invite(g.key, "write") })
        yield* b.client.files.upload(g.key, "b.bin", Stream.make(pattern(2000)))
        yield* b.client.groups.sync(g.key)
        const c = yield* node(nets)
        yield* c.client.groups.join({
          link: yield* a.client.groups.invite(g.key, "write"),
          memberName: "Carol",
        })
        yield* Fiber.join(listening).pipe(Effect.timeout("10 seconds"))
        const sync = seen.find((e) => e._tag === "SyncDone")
        assert.isTrue(sync?._tag === "SyncDone" && sync.repo === g.repo)
        const own = seen.find((e) => e._tag === "FilesChanged" && e.mine)
        assert.isTrue(own !== undefined)
        const joined = seen.find((e) => e._tag === "MembersChanged")
        assert.deepStrictEqual(joined?._tag === "MembersChanged" ? joined.changes : [], [
          { kind: "Joined", slot: 2, name: "Carol" },
        ])
        // Raw: the stream is text/event-stream.
        const controller = new AbortController()
        const response = yield* Effect.promise(() =>
          fetch(`${a.served.url}/v1/events`, {
            headers: bearer(a.served.token),
            signal: controller.signal,
          }),
        )
        assert.strictEqual(response.status, 200)
        assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/)
        controller.abort()
      }).pipe(Effect.scoped),
  )

  it.live(
    "events: a request dropped before its answer starts, or while it streams, releases its subscription",
    () =>
      Effect.gen(function* () {
        const inner = yield* memoryBackend(yield* networks)
        // The backend's subscriptions, observed: each says when it is made and released.
        const log = yield* Queue.unbounded<"subscribed" | "released">()
        let hold = true
        const backend: BackendShape = {
          ...inner,
          subscribe: Effect.gen(function* () {
            yield* Effect.acquireRelease(Queue.offer(log, "subscribed"), () =>
              Queue.offer(log, "released"),
            )
            // Held: the answer cannot start before the client goes away.
            if (hold) yield* Effect.never
            return yield* inner.subscribe
          }),
        }
        const served = yield* serve({ backend, dataDir: yield* tempDir, listen: { port: 0 } })
        if (served.address._tag !== "Tcp") return assert.fail("expected TCP")
        const next = Queue.take(log).pipe(Effect.timeout("10 seconds"))

        // Dropped before the answer starts: the connection closes while subscribing.
        const socket = connect(served.address.port, served.address.host)
        socket.on("error", () => {})
        socket.write(
          `GET /v1/events HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${served.token}\r\n\r\n`,
        )
        assert.strictEqual(yield* next, "subscribed")
        socket.destroy()
        assert.strictEqual(yield* next, "released")

        // Dropped while streaming: after the first heartbeat arrived.
        hold = false
        const controller = new AbortController()
        const first = yield* Effect.promise(async () => {
          const response = await fetch(`${served.url}/v1/events`, {
            headers: bearer(served.token),
            signal: controller.signal,
          })
          const reader = (response.body as ReadableStream<Uint8Array>).getReader()
          return new TextDecoder().decode((await reader.read()).value)
        })
        assert.match(first, /Heartbeat/)
        assert.strictEqual(yield* next, "subscribed")
        controller.abort()
        assert.strictEqual(yield* next, "released")
        assert.strictEqual(yield* Queue.size(log), 0)
      }).pipe(Effect.scoped),
  )

  it.live(
    "backups: DELETE /groups/{group}/backups/{server} removes by the kept link, force passed through",
    () =>
      Effect.gen(function* () {
        const inner = yield* memoryBackend(yield* networks)
        const asked: Array<readonly [string, string, boolean | undefined]> = []
        const backend: BackendShape = {
          ...inner,
          removeKeptBackup: (group, server, options) =>
            Effect.sync(() => {
              asked.push([group, server, options?.force])
              return { group, server, reached: true, held: true, freed: 3 }
            }),
        }
        const served = yield* serve({ backend, dataDir: yield* tempDir, listen: { port: 0 } })
        const client = yield* makeClient({ baseUrl: served.url, token: served.token })
        const server = "VLD0:server:with/slash"
        assert.deepStrictEqual(yield* client.backups.removeServer("VLD0:g", server), {
          group: "VLD0:g",
          server,
          reached: true,
          held: true,
          freed: 3,
        })
        yield* client.backups.removeServer("VLD0:g", server, true)
        assert.deepStrictEqual(asked, [
          ["VLD0:g", server, undefined],
          ["VLD0:g", server, true],
        ])
      }).pipe(Effect.scoped),
  )

  it.live("pairing: a new device takes the member over and writes; another member reads it", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* node(nets)
      const b = yield* node(nets)
      const c = yield* node(nets)
      const g = yield* a.client.groups.create({ name: "Moving", memberName: "Alice" })
      const first = pattern(40_000, 1)
      yield* a.client.files.upload(g.key, "first.bin", Stream.make(first))
      yield* b.client.groups.join({ link: yield* a.client.groups.invite(g.key, "read") })
      const link = yield* a.client.pairing.makeLink()
      assert.match(link, /^save\+dweb:pair\?v=1&data=/)
      const paired = yield* c.client.pairing.pair(link)
      assert.deepStrictEqual(paired.groups, [
        { key: g.key, name: "Moving", tier: "write", loaded: true },
      ])
      // The old device lets go of the group without leaving it (its slot is the new device's now).
      yield* a.client.groups.forget(g.key)
      assert.deepStrictEqual(yield* a.client.groups.list, [])
      const onC = yield* c.client.groups.get(g.key)
      assert.strictEqual(onC.repo, g.repo)
      assert.strictEqual(onC.slot, 0)
      const second = pattern(25_000, 2)
      yield* c.client.files.upload(g.key, "second.bin", Stream.make(second))
      const read = yield* b.client.files.download(g.key, g.repo as string, "second.bin")
      assert.deepStrictEqual(yield* bytesOf(read.bytes), second)
    }).pipe(Effect.scoped),
  )

  it.live("a unix socket: made 0600, served to a client given the socket path", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = join(dir, "api.sock")
      const backend = yield* memoryBackend(yield* networks)
      const served = yield* serve({ backend, dataDir: dir, listen: { socket } })
      assert.strictEqual(served.address._tag, "Socket")
      assert.strictEqual((yield* Effect.promise(() => stat(socket))).mode & 0o777, 0o600)
      // Undici's transport reaches a socket (fetch cannot); the CLI does the same.
      const undici = yield* Layer.build(
        NodeHttpClient.layerUndiciOptions({ connect: { socketPath: socket } }),
      )
      const client = yield* makeClient({
        token: served.token,
        httpClient: Context.get(undici, HttpClient.HttpClient),
      })
      yield* client.groups.create({ name: "Local" })
      assert.strictEqual((yield* client.groups.list).length, 1)
      const again = yield* failureOf(serve({ backend, dataDir: dir, listen: { socket } }))
      assert.strictEqual(again._tag, "ServeError")
    }).pipe(Effect.scoped),
  )

  it.live(
    "the OpenAPI document describes every route; /docs is Scalar's page with its bundle embedded, scripts allowed by hash only (both with the token)",
    () =>
      Effect.gen(function* () {
        const a = yield* node(yield* networks)
        const doc = JSON.parse(
          (yield* raw(`${a.served.url}/openapi.json`, { headers: bearer(a.served.token) })).text,
        ) as {
          paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
        }
        const described = Object.entries(doc.paths).flatMap(([path, methods]) =>
          Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
        )
        for (const [method, path] of routes("{group}")) {
          const template = path
            .replace(encodeURIComponent("{group}"), "{group}")
            .replace("/repos/mine/", "/repos/{repo}/")
            .replace("/files/a.bin", "/files/{name}")
            .replace("/backups/a-server", "/backups/{server}")
          assert.include(described, `${method} ${template}`)
        }
        assert.include(described, "GET /v1/health")
        const download = doc.paths["/v1/groups/{group}/repos/{repo}/files/{name}"]?.get
        assert.includeMembers(Object.keys(download?.responses ?? {}), [
          "200",
          "206",
          "401",
          "404",
          "416",
        ])
        const docs = yield* raw(`${a.served.url}/docs`, { headers: bearer(a.served.token) })
        assert.strictEqual(docs.status, 200)
        assert.match(docs.headers.get("content-type") ?? "", /text\/html/)
        assert.include(docs.text, "/v1/groups/{group}/repos/{repo}/files/{name}")
        // Effect's Scalar page, its bundle inline; its policy lets it load nothing from
        // another origin (the bundle names a CDN for optional extras).
        assert.include(docs.text, "api-reference-container")
        assert.notMatch(docs.text, /<script[^>]+src=/)
        const csp = docs.headers.get("content-security-policy") ?? ""
        assert.match(csp, /script-src 'sha256-[^']+' 'sha256-[^']+'/)
        assert.notMatch(csp, /script-src[^;]*unsafe-inline/)
        assert.include(csp, "connect-src 'self'")
        // The typed client reads both with its token: the same document and page.
        assert.deepStrictEqual(yield* a.client.openapi, doc as unknown)
        assert.strictEqual(yield* a.client.docs, docs.text)
      }).pipe(Effect.scoped),
  )

  it.live("no CORS headers are sent", () =>
    Effect.gen(function* () {
      const a = yield* node(yield* networks)
      const answer = yield* raw(`${a.served.url}/v1/groups`, {
        headers: { ...bearer(a.served.token), origin: "http://evil.example" },
      })
      assert.strictEqual(answer.status, 200)
      assert.isNull(answer.headers.get("access-control-allow-origin"))
      const preflight = yield* raw(`${a.served.url}/v1/groups`, {
        method: "OPTIONS",
        headers: { origin: "http://evil.example", "access-control-request-method": "POST" },
      })
      assert.isNull(preflight.headers.get("access-control-allow-origin"))
      assert.isTrue(Option.isSome(Option.some(preflight.status)))
    }).pipe(Effect.scoped),
  )

  it.live(
    "backups: a bad descriptor link is 400 InvalidLink, an unknown group 404, a wrong access secret 403, a server kept nowhere 404, a read member 403",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const a = yield* node(nets)
        const g = yield* a.client.groups.create({ name: "Backed up", memberName: "alice" })
        // A well-formed link whose secret does not open its record (here the group's own).
        const server = formatLink(
          new BackupDescriptor({
            record: g.key as BackupDescriptor["record"],
            accessSecret: makeSecretKey(new Uint8Array(32).fill(7)),
          }),
        )
        assert.strictEqual(
          (yield* failureOf(a.client.backups.add(g.key, "save+dweb:backup?v=1")))._tag,
          "InvalidLink",
        )
        assert.strictEqual(
          (yield* failureOf(a.client.backups.held("nonsense")))._tag,
          "InvalidLink",
        )
        assert.strictEqual(
          (yield* failureOf(a.client.backups.add("VLD0:nope", server)))._tag,
          "UnknownGroup",
        )
        const refused = yield* failureOf(a.client.backups.add(g.key, server))
        assert.strictEqual(refused._tag, "Forbidden")
        assert.match(refused.message, /backup server/)
        assert.deepStrictEqual(yield* a.client.backups.forGroup(g.key), [])
        // Removing by key needs a link kept here; none is.
        const unknown = yield* failureOf(a.client.backups.removeServer(g.key, UNKNOWN))
        assert.strictEqual(unknown._tag, "NotFound")
        assert.match(unknown.message, /^UnknownBackup: .*remove it with its link/)
        assert.strictEqual(
          (yield* failureOf(a.client.backups.removeServer("VLD0:nope", UNKNOWN)))._tag,
          "UnknownGroup",
        )
        // A read member has no repo to list a backup in.
        const b = yield* node(nets)
        yield* b.client.groups.join({ link: yield* a.client.groups.invite(g.key, "read") })
        assert.strictEqual(
          (yield* failureOf(b.client.backups.add(g.key, server)))._tag,
          "Forbidden",
        )
      }).pipe(Effect.scoped),
  )
})
