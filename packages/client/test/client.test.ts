// The client against a fake `fetch`: what each call sends (method, path, token, body,
// Range) and how answers and error bodies come back, through the Promise API and the
// Effect API. The real server is exercised from rpc-server's tests.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { FetchHttpClient } from "effect/http"
import {
  type FileInfo,
  type GroupDetail,
  makeClient as makeEffectClient,
  TransportError,
  UnknownGroup,
} from "../src/index.ts"
import { InvalidFileName, makeClient } from "../src/promise-entry.ts"

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: Headers
  readonly body: Uint8Array | undefined
  readonly duplex: unknown
}

type Answer = (seen: Seen) => Response | Promise<Response>

/** A `fetch` that records each request (its body read whole) and answers with `answer`. */
const fakeFetch = (answer: Answer) => {
  const seen: Array<Seen> = []
  const fetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const body =
      init.body === undefined || init.body === null
        ? undefined
        : new Uint8Array(await new Response(init.body).arrayBuffer())
    const request: Seen = {
      method: init.method ?? "GET",
      url: String(input),
      headers: new Headers(init.headers),
      body,
      duplex: (init as { duplex?: unknown }).duplex,
    }
    seen.push(request)
    return answer(request)
  }) as typeof globalThis.fetch
  return { fetch, seen }
}

const json = (value: unknown, status = 200) =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } })

const group = {
  key: "VLD0:abc",
  name: "Family",
  tier: "manage",
  slot: 0,
  sourcePolicy: "any",
  transport: "private",
  repo: "VLD0:repo",
} satisfies GroupDetail
const file = {
  name: "a b.txt",
  hash: "0".repeat(64),
  size: 5,
  storedSize: 60,
  createdAt: 1,
  modifiedAt: 1,
  owner: "Alice",
  status: "local",
} satisfies FileInfo

const base = "http://127.0.0.1:7575"

const collect = async (stream: ReadableStream<Uint8Array>) =>
  new Uint8Array(await new Response(stream).arrayBuffer())

describe("the Promise API", () => {
  it("lists groups with the bearer token and decodes the answer", async () => {
    const { fetch, seen } = fakeFetch(() =>
      json([{ key: "VLD0:abc", name: null, tier: "read", loaded: true }]),
    )
    const client = makeClient({ baseUrl: `${base}/`, token: "secret", fetch })
    assert.deepStrictEqual(await client.groups.list(), [
      { key: "VLD0:abc", name: null, tier: "read", loaded: true },
    ])
    assert.strictEqual(seen[0]?.method, "GET")
    assert.strictEqual(seen[0]?.url, `${base}/v1/groups`)
    assert.strictEqual(seen[0]?.headers.get("authorization"), "Bearer secret")
    await client.close()
  })

  it("creates a group with a JSON body and gets 201's detail", async () => {
    const { fetch, seen } = fakeFetch(() => json(group, 201))
    const client = makeClient({ baseUrl: base, token: "t", fetch })
    assert.deepStrictEqual(
      await client.groups.create({ name: "Family", memberName: "Alice" }),
      group,
    )
    assert.strictEqual(seen[0]?.method, "POST")
    assert.deepStrictEqual(JSON.parse(new TextDecoder().decode(seen[0]?.body)), {
      name: "Family",
      memberName: "Alice",
    })
  })

  it("changes the transport with a PUT and gets the group's detail", async () => {
    const direct = { ...group, transport: "direct" } satisfies GroupDetail
    const { fetch, seen } = fakeFetch(() => json(direct))
    const client = makeClient({ baseUrl: base, token: "t", fetch })
    assert.deepStrictEqual(await client.groups.setTransport("VLD0:abc", "direct"), direct)
    assert.strictEqual(seen[0]?.method, "PUT")
    assert.strictEqual(seen[0]?.url, `${base}/v1/groups/VLD0%3Aabc/transport`)
    assert.deepStrictEqual(JSON.parse(new TextDecoder().decode(seen[0]?.body)), {
      transport: "direct",
    })
  })

  it("an API error rejects with its class, tag and message", async () => {
    const { fetch } = fakeFetch(() =>
      json({ error: "UnknownGroup", message: "no group VLD0:x here" }, 404),
    )
    const client = makeClient({ baseUrl: base, token: "t", fetch })
    const error = await client.groups.get("VLD0:x").then(
      () => assert.fail("resolved"),
      (e: unknown) => e,
    )
    assert.instanceOf(error, UnknownGroup)
    assert.instanceOf(error, Error)
    assert.strictEqual((error as UnknownGroup)._tag, "UnknownGroup")
    assert.strictEqual((error as UnknownGroup).message, "no group VLD0:x here")
  })

  it("an answer that is not the API's, or no answer, rejects with a TransportError", async () => {
    const garbled = makeClient({
      baseUrl: base,
      fetch: fakeFetch(() => new Response("<html>proxy error</html>", { status: 502 })).fetch,
    })
    assert.instanceOf(await garbled.status().catch((e: unknown) => e), TransportError)
    const refused = makeClient({
      baseUrl: base,
      fetch: (() => Promise.reject(new TypeError("fetch failed"))) as typeof globalThis.fetch,
    })
    const error = await refused.health().catch((e: unknown) => e)
    assert.instanceOf(error, TransportError)
  })

  it("lists files with whether each is pinned, and an older daemon's list without it", async () => {
    const pinned = { ...file, name: "kept", pinned: true }
    const { fetch } = fakeFetch(() => json([pinned, file]))
    const client = makeClient({ baseUrl: base, token: "t", fetch })
    const files = await client.files.list("g", "VLD0:repo")
    assert.deepStrictEqual(files, [pinned, file])
    assert.isUndefined(files[1]?.pinned)
    await client.close()
  })

  it("uploads bytes and a Blob as one body, a web stream and an async iterable streamed, with progress", async () => {
    const { fetch, seen } = fakeFetch(() => json(file, 201))
    const client = makeClient({ baseUrl: base, token: "t", fetch })
    const bytes = new TextEncoder().encode("hello")
    const progress: Array<number> = []
    const onProgress = (sent: number) => void progress.push(sent)
    assert.deepStrictEqual(await client.files.upload("g", "a b.txt", bytes, { onProgress }), file)
    await client.files.upload("g", "a b.txt", new Blob([bytes]), { onProgress })
    const web = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.subarray(0, 2))
        controller.enqueue(bytes.subarray(2))
        controller.close()
      },
    })
    await client.files.upload("g", "a b.txt", web, { onProgress })
    async function* chunks() {
      yield bytes.subarray(0, 3)
      yield bytes.subarray(3)
    }
    await client.files.upload("g", "a b.txt", chunks(), { onProgress })
    assert.deepStrictEqual(progress, [5, 5, 2, 5, 3, 5])
    for (const request of seen) {
      assert.strictEqual(request.method, "PUT")
      assert.strictEqual(request.url, `${base}/v1/groups/g/repos/mine/files/a%20b.txt`)
      assert.deepStrictEqual(request.body, bytes)
    }
    // Streams go as streams (fetch's `duplex: "half"`), never collected first.
    assert.deepStrictEqual(
      seen.map((r) => r.duplex),
      [undefined, undefined, "half", "half"],
    )
  })

  it("a failing upload source rejects with the source's own error", async () => {
    const { fetch } = fakeFetch(() => json(file, 201))
    const client = makeClient({ baseUrl: base, token: "t", fetch })
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new RangeError("disk gone"))
      },
    })
    const error = await client.files.upload("g", "x", broken).catch((e: unknown) => e)
    assert.instanceOf(error, RangeError)
  })

  it("downloads a range: sends Range, reads Content-Range, streams the body", async () => {
    const { fetch, seen } = fakeFetch(
      () =>
        new Response(new TextEncoder().encode("llo"), {
          status: 206,
          headers: { "content-range": "bytes 2-4/5", "content-length": "3" },
        }),
    )
    const client = makeClient({ baseUrl: base, token: "t", fetch })
    const download = await client.files.download("g", "VLD0:r", "a.txt", {
      range: { start: 2 },
    })
    assert.deepStrictEqual([download.size, download.start, download.end], [5, 2, 4])
    assert.strictEqual(new TextDecoder().decode(await collect(download.body)), "llo")
    assert.strictEqual(seen[0]?.headers.get("range"), "bytes=2-")
    assert.strictEqual(seen[0]?.url, `${base}/v1/groups/g/repos/VLD0%3Ar/files/a.txt`)
  })

  it('refuses "." and ".." as file names before sending anything', async () => {
    const { fetch, seen } = fakeFetch(() => json(file, 201))
    const client = makeClient({ baseUrl: base, token: "t", fetch })
    assert.instanceOf(
      await client.files.delete("g", "..").catch((e: unknown) => e),
      InvalidFileName,
    )
    assert.instanceOf(
      await client.files.upload("g", ".", new Uint8Array(1)).catch((e: unknown) => e),
      InvalidFileName,
    )
    assert.strictEqual(seen.length, 0)
  })

  it("events: server-sent events as an async iterable, heartbeats left out", async () => {
    const sse = [
      { _tag: "Heartbeat", at: 1 },
      { _tag: "GroupOpened", group: "g" },
      { _tag: "FilesChanged", group: "g", repo: "r", root: null, mine: true },
    ]
      .map((event) => `data: ${JSON.stringify(event)}\n\n`)
      .join("")
    const { fetch, seen } = fakeFetch(
      () => new Response(sse, { headers: { "content-type": "text/event-stream" } }),
    )
    const client = makeClient({ baseUrl: base, token: "t", fetch })
    const events: Array<string> = []
    for await (const event of client.events()) events.push(event._tag)
    assert.deepStrictEqual(events, ["GroupOpened", "FilesChanged"])
    const subscription = await client.subscribe()
    const after: Array<string> = []
    for await (const event of subscription) after.push(event._tag)
    await subscription.close()
    assert.deepStrictEqual(after, ["GroupOpened", "FilesChanged"])
    assert.strictEqual(seen[0]?.url, `${base}/v1/events`)
  })

  it("the OpenAPI document and the docs page come with the token", async () => {
    const doc = { openapi: "3.1.0", info: { title: "save-dweb daemon API" }, paths: {} }
    const { fetch, seen } = fakeFetch((request) =>
      request.url.endsWith("/openapi.json") ? json(doc) : new Response("<html></html>"),
    )
    const client = makeClient({ baseUrl: base, token: "t", fetch })
    assert.deepStrictEqual(await client.openapi(), doc as never)
    assert.strictEqual(await client.docs(), "<html></html>")
    assert.deepStrictEqual(
      seen.map((r) => r.headers.get("authorization")),
      ["Bearer t", "Bearer t"],
    )
  })
})

/** What a fake `XMLHttpRequest` saw, and how it answers: progress in halves, then `answer`. */
interface XhrSeen {
  method: string
  url: string
  readonly headers: Record<string, string>
  body: Blob | undefined
}

const installFakeXhr = (answer: { status: number; text: string } | "network error") => {
  const seen: Array<XhrSeen> = []
  class FakeXhr {
    readonly upload: { onprogress: ((event: { loaded: number }) => void) | null } = {
      onprogress: null,
    }
    status = 0
    responseText = ""
    readyState = 1
    onload: (() => void) | null = null
    onerror: (() => void) | null = null
    readonly request: XhrSeen = { method: "", url: "", headers: {}, body: undefined }
    open(method: string, url: string) {
      this.request.method = method
      this.request.url = url
      seen.push(this.request)
    }
    setRequestHeader(name: string, value: string) {
      this.request.headers[name.toLowerCase()] = value
    }
    send(body: Blob) {
      this.request.body = body
      const half = Math.floor(body.size / 2)
      const later = (f: () => void) => setTimeout(f, 1)
      later(() => {
        this.upload.onprogress?.({ loaded: half })
        later(() => {
          if (answer === "network error") return this.onerror?.()
          this.upload.onprogress?.({ loaded: body.size })
          this.upload.onprogress?.({ loaded: body.size })
          this.readyState = 4
          this.status = answer.status
          this.responseText = answer.text
          this.onload?.()
        })
      })
    }
    abort() {}
  }
  const global = globalThis as { XMLHttpRequest?: unknown }
  global.XMLHttpRequest = FakeXhr
  return { seen, [Symbol.dispose]: () => delete global.XMLHttpRequest }
}

describe("in a browser (XMLHttpRequest present)", () => {
  it("uploads a Blob with XHR when progress is asked for, reporting bytes as they are sent", async () => {
    using xhr = installFakeXhr({ status: 201, text: JSON.stringify(file) })
    const client = makeClient({ baseUrl: base, token: "t" })
    const progress: Array<number> = []
    const blob = new Blob([new Uint8Array(1000)])
    const info = await client.files.upload("g", "a b.txt", blob, {
      onProgress: (sent) => void progress.push(sent),
    })
    assert.deepStrictEqual(info, file)
    // Each count once, the last one the whole body.
    assert.deepStrictEqual(progress, [500, 1000])
    const [request] = xhr.seen
    assert.strictEqual(request?.method, "PUT")
    assert.strictEqual(request?.url, `${base}/v1/groups/g/repos/mine/files/a%20b.txt`)
    assert.strictEqual(request?.headers.authorization, "Bearer t")
    assert.strictEqual(request?.headers["content-type"], "application/octet-stream")
    assert.strictEqual(request?.body?.size, 1000)
    await client.close()
  })

  it("an API error over XHR rejects with its class; no answer with a TransportError", async () => {
    {
      using _ = installFakeXhr({
        status: 404,
        text: JSON.stringify({ error: "UnknownGroup", message: "no such group" }),
      })
      const client = makeClient({ baseUrl: base, token: "t" })
      const error = await client.files
        .upload("g", "x", new Uint8Array(10), { onProgress: () => {} })
        .catch((e: unknown) => e)
      assert.instanceOf(error, UnknownGroup)
      assert.strictEqual((error as UnknownGroup).message, "no such group")
    }
    using _ = installFakeXhr("network error")
    const client = makeClient({ baseUrl: base, token: "t" })
    const error = await client.files
      .upload("g", "x", new Uint8Array(10), { onProgress: () => {} })
      .catch((e: unknown) => e)
    assert.instanceOf(error, TransportError)
  })

  it("keeps to fetch without a progress callback or with a fetch of the caller's", async () => {
    using xhr = installFakeXhr({ status: 500, text: "" })
    const { fetch, seen } = fakeFetch(() => json(file, 201))
    const own = makeClient({ baseUrl: base, token: "t", fetch })
    await own.files.upload("g", "a", new Blob([new Uint8Array(3)]), { onProgress: () => {} })
    assert.strictEqual(seen.length, 1)
    // No callback: the default fetch (to a closed port here), not XHR.
    const refused = makeClient({ baseUrl: "http://127.0.0.1:9", token: "t" })
    const error = await refused.files.upload("g", "a", new Uint8Array(3)).catch((e: unknown) => e)
    assert.instanceOf(error, TransportError)
    assert.strictEqual(xhr.seen.length, 0)
  })
})

describe("the Effect API", () => {
  it.effect("fails with tagged errors that catchTag matches", () =>
    Effect.gen(function* () {
      const { fetch } = fakeFetch(() => json({ error: "UnknownGroup", message: "gone" }, 404))
      const client = yield* makeEffectClient({ baseUrl: base, token: "t" })
      const tag = yield* client.groups.leave("g").pipe(
        Effect.as("left"),
        Effect.catchTag("UnknownGroup", (e) => Effect.succeed(`caught: ${e.message}`)),
        Effect.provideService(FetchHttpClient.Fetch, fetch),
      )
      assert.strictEqual(tag, "caught: gone")
    }).pipe(Effect.scoped),
  )

  it.effect("uploads a Stream and reports progress as an effect", () =>
    Effect.gen(function* () {
      const { fetch, seen } = fakeFetch(() => json(file, 201))
      const client = yield* makeEffectClient({ baseUrl: base, token: "t" })
      const sent: Array<number> = []
      const info = yield* client.files
        .upload("g", "a", Stream.make(new Uint8Array(2), new Uint8Array(3)), {
          onProgress: (n) => Effect.sync(() => void sent.push(n)),
        })
        .pipe(Effect.provideService(FetchHttpClient.Fetch, fetch))
      assert.strictEqual(info.name, "a b.txt")
      assert.deepStrictEqual(sent, [2, 5])
      assert.strictEqual(seen[0]?.body?.length, 5)
    }).pipe(Effect.scoped),
  )
})
