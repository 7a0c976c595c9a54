// A private npm registry for one release check: verdaccio on 127.0.0.1, storage in a temp
// dir, `@save-dweb/*` published here only (never proxied), every other package read
// through from the npm registry this machine uses. Nothing is published anywhere else.
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdirSync, openSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { join } from "node:path"

/**
 * The environment for npm: this one without the `npm_config_*` variables that a pnpm
 * script sets (its registry, its own settings npm does not know), so npm reads only its
 * user config and the options given.
 */
export const npmEnvironment = (): NodeJS.ProcessEnv =>
  Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_config_")),
  )

export interface Registry {
  readonly url: string
  /** An npmrc with the registry and a token for it (`npm --userconfig`). */
  readonly npmrc: string
  readonly stop: () => void
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0))
    })
  })

const waitFor = async (url: string, child: ChildProcess, logPath: string, millis: number) => {
  const deadline = Date.now() + millis
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`verdaccio exited ${child.exitCode} (its log: ${logPath})`)
    }
    try {
      if ((await fetch(`${url}-/ping`)).ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`verdaccio did not answer at ${url} within ${millis / 1000} s`)
}

export const startRegistry = async (dir: string): Promise<Registry> => {
  mkdirSync(dir, { recursive: true })
  const upstream = execFileSync("npm", ["config", "get", "registry"], {
    encoding: "utf8",
    env: npmEnvironment(),
  }).trim()
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const config = join(dir, "config.yaml")
  writeFileSync(
    config,
    [
      `storage: ${join(dir, "storage")}`,
      // The Veilid binding's tarball carries the compiled addon (tens of MB).
      "max_body_size: 300mb",
      "auth:",
      "  htpasswd:",
      `    file: ${join(dir, "htpasswd")}`,
      "uplinks:",
      "  upstream:",
      `    url: ${upstream}`,
      "packages:",
      "  '@save-dweb/*':",
      "    access: $all",
      "    publish: $authenticated",
      "  '**':",
      "    access: $all",
      "    publish: $authenticated",
      "    proxy: upstream",
      "log: { type: stdout, format: pretty, level: error }",
      "",
    ].join("\n"),
  )
  const bin = createRequire(import.meta.url).resolve("verdaccio/bin/verdaccio")
  const logPath = join(dir, "verdaccio.log")
  const log = openSync(logPath, "a")
  const child = spawn(
    process.execPath,
    [bin, "--config", config, "--listen", `127.0.0.1:${port}`],
    {
      // Its own log (it also warns that it runs as root, which the testnet step needs).
      stdio: ["ignore", log, log],
    },
  )
  const stop = () => {
    if (child.exitCode === null) child.kill("SIGTERM")
  }
  try {
    await waitFor(url, child, logPath, 60_000)
    // A user for publishing (verdaccio's htpasswd auth makes one on first login).
    const response = await fetch(`${url}-/user/org.couchdb.user:release-check`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "release-check", password: "release-check-local" }),
    })
    const { token } = (await response.json()) as { token?: string }
    if (token === undefined) throw new Error(`verdaccio gave no token (${response.status})`)
    const npmrc = join(dir, "npmrc")
    writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`)
    return { url, npmrc, stop }
  } catch (error) {
    stop()
    throw error
  }
}
