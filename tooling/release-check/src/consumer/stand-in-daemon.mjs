// A stand-in for the daemon's HTTP API, as far as the release check's consumers use it:
// health, the group list, a file's upload and download, an unknown group's typed error.
// It answers like the daemon (same routes, bearer token, JSON bodies) from memory, and
// serves `pages` (path -> { type, body }) without a token, so a page and the API share
// an origin as they do on the daemon. Plain ESM: it runs on Node 22.0.0 too.
import { Buffer } from "node:buffer"
import { createServer } from "node:http"

const fileRoute = /^\/v1\/groups\/([^/]+)\/repos\/mine\/files\/([^/]+)$/

/**
 * Listens on 127.0.0.1 (a free port). `groups` is what `GET /v1/groups` answers; uploads
 * land in `stored` (name -> Buffer).
 */
export const startStandInDaemon = async ({ token, groups, pages = {} }) => {
  const stored = new Map()
  const server = createServer(async (request, response) => {
    const answer = (status, body) => {
      response.writeHead(status, { "content-type": "application/json" })
      response.end(JSON.stringify(body))
    }
    const path = new URL(request.url ?? "/", "http://stand-in").pathname
    const page = request.method === "GET" ? pages[path] : undefined
    if (page !== undefined) {
      response.writeHead(200, { "content-type": page.type })
      return response.end(page.body)
    }
    if (path === "/v1/health") return answer(200, { ok: true, api: "v1" })
    if (request.headers.authorization !== `Bearer ${token}`)
      return answer(401, { error: "Unauthorized", message: "no token" })
    if (request.method === "GET" && path === "/v1/groups") return answer(200, groups)
    const file = fileRoute.exec(path)
    if (request.method === "PUT" && file !== null) {
      const chunks = []
      for await (const chunk of request) chunks.push(chunk)
      const bytes = Buffer.concat(chunks)
      const name = decodeURIComponent(file[2])
      stored.set(name, bytes)
      return answer(201, {
        name,
        hash: "0".repeat(64),
        size: bytes.length,
        storedSize: bytes.length,
        createdAt: 0,
        modifiedAt: 0,
        owner: "Alice",
        status: "local",
      })
    }
    if (request.method === "GET" && file !== null) {
      const bytes = stored.get(decodeURIComponent(file[2]))
      response.writeHead(200, { "content-length": String(bytes.length) })
      return response.end(bytes)
    }
    return answer(404, { error: "UnknownGroup", message: `no group at ${request.url}` })
  })
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stored,
    close: () =>
      new Promise((resolve) => {
        server.close(resolve)
        server.closeAllConnections()
      }),
  }
}
