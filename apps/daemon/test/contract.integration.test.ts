// The RPC contract against real daemons on a private testnet, in raw HTTP: every route of
// the OpenAPI document is called (the test fails if one is missed), refused without a
// token and with a wrong one, and answered with its documented shape; bad input gets a
// typed 4xx, never a 5xx. Run inside `veilid-testnet exec` (the `test` script does).
import { randomBytes } from "node:crypto"
import { eventuallyAsync } from "@save-dweb/test-support"
import { startTestnet, type Testnet } from "@save-dweb/veilid-testnet"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { networkFlag, type RunningDaemon, startDaemon, tempDir } from "./harness.ts"

let testnet: Testnet
let a: RunningDaemon
let b: RunningDaemon
const called = new Set<string>()

beforeAll(async () => {
  testnet = await startTestnet({ readyTimeoutMs: 120_000 })
  const start = (node: string, extra: ReadonlyArray<string>) => {
    const dir = tempDir()
    return startDaemon(dir, [
      "--network",
      networkFlag(testnet, node, dir),
      "--listen",
      "127.0.0.1:0",
      "--sync-interval",
      "0",
      ...extra,
    ])
  }
  ;[a, b] = await Promise.all([
    start("contract-a", ["--max-upload", String(1024 * 1024)]),
    start("contract-b", []),
  ])
}, 240_000)

afterAll(async () => {
  for (const d of [a, b]) if (d !== undefined && d.child.exitCode === null) d.child.kill("SIGTERM")
  await Promise.all([a?.exited, b?.exited])
  await testnet?.stop()
}, 90_000)

type Auth = "token" | "none" | "wrong"

/** One HTTP call; `template` is the OpenAPI path (`/v1/groups/{group}`), recorded as covered. */
const call = async (
  d: RunningDaemon,
  method: string,
  template: string,
  params: Record<string, string> = {},
  init: {
    body?: string | Uint8Array
    json?: unknown
    auth?: Auth
    headers?: Record<string, string>
  } = {},
) => {
  called.add(`${method} ${template}`)
  const path = template.replace(/\{(\w+)\}/g, (_, k: string) =>
    encodeURIComponent(params[k] ?? "x"),
  )
  const headers: Record<string, string> = { ...init.headers }
  const auth = init.auth ?? "token"
  if (auth === "token") headers.authorization = `Bearer ${d.token}`
  if (auth === "wrong") headers.authorization = `Bearer ${d.token.slice(0, -2)}xx`
  let body = init.body
  if (init.json !== undefined) {
    body = JSON.stringify(init.json)
    headers["content-type"] = "application/json"
  }
  const response = await fetch(`${d.state.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body, duplex: "half" }),
  } as RequestInit)
  return response
}

const json = async (r: Response) => (await r.json()) as Record<string, unknown> & Array<unknown>

describe("the RPC contract on a real daemon", () => {
  it("every route but health refuses a missing or wrong token with 401 Unauthorized", async () => {
    const health = await call(a, "GET", "/v1/health", {}, { auth: "none" })
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ ok: true, api: "v1" })

    const doc = (await (await call(a, "GET", "/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>
    }
    for (const [template, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) {
        if (template === "/v1/health") continue
        // The sign-in exchange is the other route without a token: a wrong code is its 401.
        if (template === "/v1/sign-in") {
          const r = await call(a, "POST", template, {}, { auth: "none", json: { code: "wrong" } })
          expect(r.status).toBe(401)
          expect(await r.json()).toMatchObject({ error: "Unauthorized" })
          continue
        }
        for (const auth of ["none", "wrong"] as const) {
          const verb = method.toUpperCase()
          const r = await call(
            a,
            verb,
            template,
            {},
            verb === "GET" ? { auth } : { auth, json: {} },
          )
          expect([template, method, auth, r.status]).toEqual([template, method, auth, 401])
          expect(await r.json()).toMatchObject({ error: "Unauthorized" })
        }
      }
    }
    for (const path of ["/openapi.json", "/docs"]) {
      expect((await call(a, "GET", path, {}, { auth: "none" })).status).toBe(401)
    }
    expect((await call(a, "GET", "/docs")).status).toBe(200)
  })

  it("groups, members, repos, invites, join, files with ranges, pin, sync, events, pairing, forget and leave answer as documented", async () => {
    const events = await call(a, "GET", "/v1/events")
    expect(events.status).toBe(200)
    expect(events.headers.get("content-type")).toMatch(/^text\/event-stream/)
    const reader = events.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>
    let sse = ""

    expect(await json(await call(a, "GET", "/v1/status"))).toMatchObject({
      veilid: { state: expect.stringMatching(/Attached/) },
      groups: { known: 0, loaded: 0 },
    })
    const created = await call(
      a,
      "POST",
      "/v1/groups",
      {},
      { json: { name: "Contract", memberName: "alice" } },
    )
    expect(created.status).toBe(201)
    const g = (await created.json()) as { key: string; repo: string; tier: string; slot: number }
    expect(g).toMatchObject({ tier: "manage", slot: 0 })
    expect(await json(await call(a, "GET", "/v1/groups"))).toEqual([
      expect.objectContaining({ key: g.key, name: "Contract", tier: "manage", loaded: true }),
    ])
    expect(await json(await call(a, "GET", "/v1/groups/{group}", { group: g.key }))).toMatchObject({
      key: g.key,
      name: "Contract",
      sourcePolicy: "any",
      transport: "private",
      repo: g.repo,
    })
    const invites: Record<string, string> = {}
    for (const tier of ["replicate", "read", "write"]) {
      const r = await call(
        a,
        "POST",
        "/v1/groups/{group}/invites",
        { group: g.key },
        { json: { tier } },
      )
      expect(r.status).toBe(201)
      invites[tier] = ((await r.json()) as { link: string }).link
      expect(invites[tier]).toMatch(new RegExp(`^save\\+dweb:invite\\?v=1&cap=${tier}&`))
    }

    const content = randomBytes(200_000)
    const file = { group: g.key, repo: "mine", name: "report 1.bin" }
    const up = await call(a, "PUT", "/v1/groups/{group}/repos/{repo}/files/{name}", file, {
      body: content,
    })
    expect(up.status).toBe(201)
    expect(await up.json()).toMatchObject({
      name: "report 1.bin",
      size: 200_000,
      status: "local",
      owner: "alice",
    })
    expect(await json(await call(a, "GET", "/v1/groups/{group}/repos/{repo}/files", file))).toEqual(
      [expect.objectContaining({ name: "report 1.bin", status: "local", pinned: false })],
    )
    const whole = await call(a, "GET", "/v1/groups/{group}/repos/{repo}/files/{name}", file)
    expect(whole.status).toBe(200)
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(content)
    const part = await call(a, "GET", "/v1/groups/{group}/repos/{repo}/files/{name}", file, {
      headers: { range: "bytes=100000-100009" },
    })
    expect(part.status).toBe(206)
    expect(part.headers.get("content-range")).toBe("bytes 100000-100009/200000")
    expect(Buffer.from(await part.arrayBuffer())).toEqual(content.subarray(100_000, 100_010))
    const past = await call(a, "GET", "/v1/groups/{group}/repos/{repo}/files/{name}", file, {
      headers: { range: "bytes=300000-" },
    })
    expect(past.status).toBe(416)
    expect(await past.json()).toMatchObject({ error: "RangeNotSatisfiable" })

    // bob joins with the write link; both repos and members appear.
    const joined = await eventuallyAsync(async () => {
      const r = await call(
        b,
        "POST",
        "/v1/groups/join",
        {},
        { json: { link: invites.write, memberName: "bob" } },
      )
      if (r.status !== 201) throw new Error(`join ${r.status}: ${await r.text()}`)
      return (await r.json()) as { tier: string; slot: number }
    })
    expect(joined.tier).toBe("write")
    const members = await eventuallyAsync(async () => {
      const ms = (await json(
        await call(a, "GET", "/v1/groups/{group}/members", { group: g.key }),
      )) as Array<{
        name: string
        mine: boolean
      }>
      if (ms.length !== 2) throw new Error("bob not seen yet")
      return ms
    })
    expect(members.map((m) => [m.name, m.mine]).sort()).toEqual([
      ["alice", true],
      ["bob", false],
    ])
    const repos = (await json(
      await call(b, "GET", "/v1/groups/{group}/repos", { group: g.key }),
    )) as Array<{
      key: string
      mine: boolean
    }>
    expect(repos).toHaveLength(2)

    // bob: alice's file is remote until pinned; sync reports alice's repo.
    const alicesFile = { ...file, repo: g.repo }
    expect(
      await json(await call(b, "GET", "/v1/groups/{group}/repos/{repo}/files", alicesFile)),
    ).toEqual([
      expect.objectContaining({ name: "report 1.bin", status: "remote-only", pinned: false }),
    ])
    expect(
      (await call(b, "POST", "/v1/groups/{group}/repos/{repo}/files/{name}/pin", alicesFile))
        .status,
    ).toBe(204)
    expect(
      await json(await call(b, "GET", "/v1/groups/{group}/repos/{repo}/files", alicesFile)),
    ).toEqual([expect.objectContaining({ status: "local", pinned: true })])
    expect(
      (await call(b, "DELETE", "/v1/groups/{group}/repos/{repo}/files/{name}/pin", alicesFile))
        .status,
    ).toBe(204)
    expect(
      await json(await call(b, "GET", "/v1/groups/{group}/repos/{repo}/files", alicesFile)),
    ).toEqual([expect.objectContaining({ status: "remote-only", pinned: false })])
    const sync = await json(await call(b, "POST", "/v1/groups/{group}/sync", { group: g.key }))
    expect(sync).toMatchObject({ failed: [] })
    expect(sync.synced).toEqual(expect.arrayContaining([expect.objectContaining({ repo: g.repo })]))

    // The manager changes the transport and renames the group; bob may do neither, but
    // renames himself; nobody removes the manager's slot.
    const transport = await call(
      a,
      "PUT",
      "/v1/groups/{group}/transport",
      { group: g.key },
      { json: { transport: "direct" } },
    )
    expect(transport.status).toBe(200)
    expect(await transport.json()).toMatchObject({ key: g.key, transport: "direct" })
    const notManager = await call(
      b,
      "PUT",
      "/v1/groups/{group}/transport",
      { group: g.key },
      { json: { transport: "private" } },
    )
    expect(notManager.status).toBe(403)
    expect(await notManager.json()).toMatchObject({ error: "Forbidden" })
    const renamed = await call(
      a,
      "PATCH",
      "/v1/groups/{group}",
      { group: g.key },
      { json: { name: "Contract desk" } },
    )
    expect(await json(renamed)).toMatchObject({ name: "Contract desk", transport: "direct" })
    const member = { group: g.key, member: String(joined.slot) }
    expect(
      (
        await call(b, "PATCH", "/v1/groups/{group}/members/{member}", member, {
          json: { name: "robert" },
        })
      ).status,
    ).toBe(204)
    const manager = { group: g.key, member: "0" }
    expect((await call(a, "DELETE", "/v1/groups/{group}/members/{member}", manager)).status).toBe(
      400,
    )
    // Bob answers a round trip over his private route (eventually: his route is published
    // once his daemon has one); a slot nobody holds is an answer too, not an error.
    const reach = await eventuallyAsync(async () => {
      const r = (await json(
        await call(a, "GET", "/v1/groups/{group}/members/{member}/reachability", member),
      )) as unknown as { reachable: boolean; roundTripMs: number | null; reason: string | null }
      if (!r.reachable) throw new Error(`bob not reachable yet: ${r.reason}`)
      return r
    })
    expect(reach.roundTripMs).toBeGreaterThanOrEqual(0)
    const empty = await call(a, "GET", "/v1/groups/{group}/members/{member}/reachability", {
      group: g.key,
      member: "9",
    })
    expect(empty.status).toBe(200)
    expect(await json(empty)).toMatchObject({ slot: 9, reachable: false, roundTripMs: null })

    // Pairing links: alice's is well-formed; using it where the group is known is a conflict.
    const pairing = await call(a, "POST", "/v1/pairing/links", {}, { json: { groups: [g.key] } })
    expect(pairing.status).toBe(201)
    const pairLink = ((await pairing.json()) as { link: string }).link
    expect(pairLink).toMatch(/^save\+dweb:pair\?v=1&/)
    const again = await call(a, "POST", "/v1/pairing", {}, { json: { link: pairLink } })
    expect(again.status).toBe(409)

    // delete, then forget (bob) and leave (alice) answer 204 and the group is gone.
    expect(
      (await call(a, "DELETE", "/v1/groups/{group}/repos/{repo}/files/{name}", file)).status,
    ).toBe(204)
    expect(await json(await call(a, "GET", "/v1/groups/{group}/repos/{repo}/files", file))).toEqual(
      [],
    )
    expect((await call(b, "POST", "/v1/groups/{group}/forget", { group: g.key })).status).toBe(204)
    expect((await call(b, "GET", "/v1/groups/{group}", { group: g.key })).status).toBe(404)
    expect((await call(a, "DELETE", "/v1/groups/{group}", { group: g.key })).status).toBe(204)
    expect(await json(await call(a, "GET", "/v1/groups"))).toEqual([])

    // The event stream saw the group opened and the file changes, as server-sent events.
    const decoder = new TextDecoder()
    const deadline = Date.now() + 10_000
    while (!/"GroupClosed"/.test(sse) && Date.now() < deadline) {
      const { value, done } = await reader.read()
      if (done) break
      sse += decoder.decode(value)
    }
    await reader.cancel()
    expect(sse).toMatch(/^data: \{"_tag":"GroupOpened"/m)
    expect(sse).toMatch(/^data: \{"_tag":"FilesChanged"/m)
    expect(sse).toMatch(/^data: \{"_tag":"GroupClosed"/m)
  }, 300_000)

  it("bad input gets a typed 4xx: undecodable bodies, bad links, unknown groups, bad names, too large, unknown routes", async () => {
    const cases: Array<[Response, number, string]> = [
      [await call(a, "POST", "/v1/groups", {}, { json: { nom: "x" } }), 400, "BadRequest"],
      [
        await call(
          a,
          "POST",
          "/v1/groups",
          {},
          { body: "{not json", headers: { "content-type": "application/json" } },
        ),
        400,
        "BadRequest",
      ],
      [await call(a, "POST", "/v1/groups", {}, { json: { name: "" } }), 400, "InvalidName"],
      [
        await call(
          a,
          "POST",
          "/v1/groups/join",
          {},
          { json: { link: "save+dweb:invite?v=1&cap=read" } },
        ),
        400,
        "InvalidLink",
      ],
      [
        await call(a, "POST", "/v1/groups/join", {}, { json: { link: "https://example.org" } }),
        400,
        "InvalidLink",
      ],
      // A record key of a crypto kind this version cannot open: refused at parse time.
      [
        await call(
          a,
          "POST",
          "/v1/groups/join",
          {},
          {
            json: {
              link: `save+dweb:invite?v=1&cap=read&group=VLD9:${"A".repeat(43)}:${"A".repeat(43)}&secret=${"A".repeat(43)}`,
            },
          },
        ),
        400,
        "InvalidLink",
      ],
      [
        await call(
          a,
          "POST",
          "/v1/pairing",
          {},
          { json: { link: "save+dweb:pair?v=1&data=AAAA" } },
        ),
        400,
        "InvalidLink",
      ],
      [await call(a, "GET", "/v1/groups/{group}", { group: "VLD0:nope" }), 404, "UnknownGroup"],
      [
        await call(
          a,
          "POST",
          "/v1/groups/{group}/invites",
          { group: "VLD0:nope" },
          { json: { tier: "read" } },
        ),
        404,
        "UnknownGroup",
      ],
      [
        await call(
          a,
          "POST",
          "/v1/groups/{group}/invites",
          { group: "VLD0:nope" },
          { json: { tier: "manage" } },
        ),
        400,
        "BadRequest",
      ],
    ]
    const g = (await (
      await call(a, "POST", "/v1/groups", {}, { json: { name: "Limits" } })
    ).json()) as { key: string }
    const put = (name: string, body: string | Uint8Array) =>
      call(
        a,
        "PUT",
        "/v1/groups/{group}/repos/{repo}/files/{name}",
        { group: g.key, repo: "mine", name },
        { body },
      )
    cases.push(
      [await put("bad\u0001name", "x"), 400, "InvalidFileName"],
      [await put("\u202Egpj.exe", "x"), 400, "InvalidFileName"],
      [await put("a".repeat(300), "x"), 400, "InvalidFileName"],
      [await put("big.bin", randomBytes(1024 * 1024 + 1)), 413, "PayloadTooLarge"],
      [
        await call(a, "GET", "/v1/groups/{group}/repos/{repo}/files/{name}", {
          group: g.key,
          repo: "mine",
          name: "missing",
        }),
        404,
        "FileNotFound",
      ],
      [
        await call(a, "GET", "/v1/groups/{group}/repos/{repo}/files", {
          group: g.key,
          repo: "VLD0:nope",
        }),
        404,
        "UnknownRepo",
      ],
      [await call(a, "GET", "/v1/nothing-here"), 404, "NotFound"],
      [
        await call(
          a,
          "POST",
          "/v1/groups/{group}/backups",
          { group: g.key },
          { json: { link: "save+dweb:backup?v=1" } },
        ),
        400,
        "InvalidLink",
      ],
      [
        await call(
          a,
          "POST",
          "/v1/groups/{group}/backups/remove",
          { group: g.key },
          { json: { link: "nonsense" } },
        ),
        400,
        "InvalidLink",
      ],
      [
        await call(a, "DELETE", "/v1/groups/{group}/backups/{server}", {
          group: g.key,
          server: g.key,
        }),
        404,
        "NotFound",
      ],
      [
        await call(a, "POST", "/v1/backups/groups", {}, { json: { link: "save+dweb:invite?v=1" } }),
        400,
        "InvalidLink",
      ],
    )
    expect(
      await json(await call(a, "GET", "/v1/groups/{group}/backups", { group: g.key })),
    ).toEqual([])
    for (const [response, status, tag] of cases) {
      const body = (await response.json()) as { error: string; message: string }
      expect([response.url, response.status, body.error]).toEqual([response.url, status, tag])
      expect(body.message.length).toBeGreaterThan(0)
    }
    // The longest name a repo takes (255 UTF-8 bytes, 765 characters percent-encoded) passes.
    const longest = "é".repeat(127)
    expect((await put(longest, "x")).status).toBe(201)
    expect(
      (
        await call(a, "DELETE", "/v1/groups/{group}/repos/{repo}/files/{name}", {
          group: g.key,
          repo: "mine",
          name: longest,
        })
      ).status,
    ).toBe(204)
    // Nothing was half-written: the oversized upload left no file behind.
    expect(
      await json(
        await call(a, "GET", "/v1/groups/{group}/repos/{repo}/files", {
          group: g.key,
          repo: "mine",
        }),
      ),
    ).toEqual([])
  })

  it("covered every route of the OpenAPI document", async () => {
    const doc = (await (await call(a, "GET", "/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>
    }
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    )
    expect(documented.length).toBeGreaterThan(15)
    expect(documented.filter((route) => !called.has(route))).toEqual([])
  })
})
