// What the daemon's web UI leans on: static files with a strict CSP, one-time sign-in
// codes, and the Host check against DNS rebinding (raw HTTP, so `Host` can be anything).
import { mkdir, writeFile } from "node:fs/promises"
import { request } from "node:http"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { makeClient } from "@save-dweb/client"
import { Effect } from "effect"
import { serve } from "../src/index.ts"
import { failureOf, memoryBackend, networks, tempDir } from "./support.ts"

interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly text: string
}

const send = (
  port: number,
  path: string,
  options: { method?: string; host?: string; headers?: Record<string, string>; body?: string } = {},
) =>
  Effect.promise(
    () =>
      new Promise<Answer>((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port,
            path,
            method: options.method ?? "GET",
            headers: { host: options.host ?? `127.0.0.1:${port}`, ...options.headers },
          },
          (res) => {
            const chunks: Buffer[] = []
            res.on("data", (c: Buffer) => chunks.push(c))
            res.on("end", () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                text: Buffer.concat(chunks).toString(),
              }),
            )
          },
        )
        req.on("error", reject)
        req.end(options.body)
      }),
  )

const served = Effect.gen(function* () {
  const dir = yield* tempDir
  const web = join(dir, "web")
  yield* Effect.promise(async () => {
    await mkdir(join(web, "assets"), { recursive: true })
    await writeFile(join(web, "index.html"), "<!doctype html><title>ui</title>")
    await writeFile(join(web, "assets", "app-1.js"), "console.log(1)")
  })
  const backend = yield* memoryBackend(yield* networks)
  const s = yield* serve({ backend, dataDir: dir, listen: { port: 0 }, staticDir: web })
  if (s.address._tag !== "Tcp") return yield* Effect.die("expected TCP")
  return { ...s, port: s.address.port }
})

describe("the web UI's server side", () => {
  it.live("serves the page and its assets with a strict Content-Security-Policy", () =>
    Effect.gen(function* () {
      const s = yield* served
      const page = yield* send(s.port, "/")
      assert.strictEqual(page.status, 200)
      assert.match(page.text, /<title>ui<\/title>/)
      assert.match(String(page.headers["content-type"]), /text\/html/)
      const csp = String(page.headers["content-security-policy"])
      assert.include(csp, "script-src 'self'")
      assert.include(csp, "connect-src 'self'")
      assert.include(csp, "frame-ancestors 'none'")
      assert.notInclude(csp, "unsafe-inline")
      assert.strictEqual(page.headers["set-cookie"], undefined)
      const script = yield* send(s.port, "/assets/app-1.js")
      assert.strictEqual(script.status, 200)
      assert.match(String(script.headers["content-type"]), /javascript/)
      assert.strictEqual((yield* send(s.port, "/assets/none.js")).status, 404)
      assert.strictEqual((yield* send(s.port, "/../package.json")).status, 404)
      // The API's own unknown routes are still the API's 404.
      const unknown = yield* send(s.port, "/v1/nothing")
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(JSON.parse(unknown.text).error, "NotFound")
    }).pipe(Effect.scoped),
  )

  it.live("a sign-in code is given for the token, works once, and a wrong one never", () =>
    Effect.gen(function* () {
      const s = yield* served
      const owner = yield* makeClient({ baseUrl: s.url, token: s.token })
      const anonymous = yield* makeClient({ baseUrl: s.url })
      const { code, expiresAt } = yield* owner.signIn.code
      assert.isAbove(expiresAt, Date.now())
      assert.strictEqual((yield* failureOf(anonymous.signIn.code))._tag, "Unauthorized")
      assert.strictEqual(
        (yield* failureOf(anonymous.signIn.exchange(`${code}x`)))._tag,
        "Unauthorized",
      )
      assert.strictEqual(yield* anonymous.signIn.exchange(code), s.token)
      const again = yield* failureOf(anonymous.signIn.exchange(code))
      assert.strictEqual(again._tag, "Unauthorized")
      assert.match(again.message, /wrong, used or expired/)
    }).pipe(Effect.scoped),
  )

  it.live("/docs opens once with a sign-in code, as with the token, and never without", () =>
    Effect.gen(function* () {
      const s = yield* served
      const owner = yield* makeClient({ baseUrl: s.url, token: s.token })
      assert.strictEqual((yield* send(s.port, "/docs")).status, 401)
      assert.strictEqual((yield* send(s.port, "/docs?code=nothing")).status, 401)
      const { code } = yield* owner.signIn.code
      const page = yield* send(s.port, `/docs?code=${code}`)
      assert.strictEqual(page.status, 200)
      assert.include(page.text, "api-reference-container")
      assert.match(String(page.headers["content-security-policy"]), /script-src 'sha256-/)
      assert.strictEqual(page.headers["cache-control"], "no-store")
      assert.strictEqual((yield* send(s.port, `/docs?code=${code}`)).status, 401)
      // A code for /docs is a sign-in code: spent there, it signs nothing else in.
      const anonymous = yield* makeClient({ baseUrl: s.url })
      assert.strictEqual((yield* failureOf(anonymous.signIn.exchange(code)))._tag, "Unauthorized")
    }).pipe(Effect.scoped),
  )

  it.live("a request whose Host is not the server's own name is refused (DNS rebinding)", () =>
    Effect.gen(function* () {
      const s = yield* served
      for (const host of [`evil.example:${s.port}`, "evil.example", `127.0.0.1:${s.port + 1}`]) {
        for (const path of ["/", "/v1/health", "/v1/groups"]) {
          const answer = yield* send(s.port, path, {
            host,
            headers: { authorization: `Bearer ${s.token}` },
          })
          assert.strictEqual(answer.status, 403, `${host} ${path}`)
          assert.strictEqual(JSON.parse(answer.text).error, "Forbidden")
        }
      }
      const exchange = yield* send(s.port, "/v1/sign-in", {
        method: "POST",
        host: `attacker.test:${s.port}`,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ code: "x" }),
      })
      assert.strictEqual(exchange.status, 403)
      for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, `[::1]:${s.port}`]) {
        assert.strictEqual((yield* send(s.port, "/v1/health", { host })).status, 200, host)
      }
    }).pipe(Effect.scoped),
  )
})
