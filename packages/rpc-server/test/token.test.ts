import { chmod, readFile, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadOrCreateToken, TOKEN_FILE } from "../src/index.ts"
import { networks, node, raw, tempDir } from "./support.ts"

const modeOf = (path: string) => Effect.promise(async () => (await stat(path)).mode & 0o777)

describe("the bearer token file", () => {
  it.live("is made on first start with mode 0600 and read back on the next", () =>
    Effect.gen(function* () {
      const dir = join(yield* tempDir, "data")
      const first = yield* loadOrCreateToken(dir)
      assert.strictEqual(first.path, join(dir, TOKEN_FILE))
      assert.match(first.token, /^[A-Za-z0-9_-]{43}$/)
      assert.strictEqual(Buffer.from(first.token, "base64url").length, 32)
      assert.strictEqual(yield* modeOf(first.path), 0o600)
      const second = yield* loadOrCreateToken(dir)
      assert.strictEqual(second.token, first.token)
    }).pipe(Effect.scoped),
  )

  it.live("a file readable by others is made 0600 again; a damaged one is replaced", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { token, path } = yield* loadOrCreateToken(dir)
      yield* Effect.promise(() => chmod(path, 0o644))
      assert.strictEqual((yield* loadOrCreateToken(dir)).token, token)
      assert.strictEqual(yield* modeOf(path), 0o600)
      yield* Effect.promise(() => writeFile(path, "not a token\n", { mode: 0o666 }))
      yield* Effect.promise(() => chmod(path, 0o666))
      const replaced = yield* loadOrCreateToken(dir)
      assert.notStrictEqual(replaced.token, token)
      assert.strictEqual(yield* modeOf(path), 0o600)
      assert.strictEqual(
        (yield* Effect.promise(() => readFile(path, "utf8"))).trim(),
        replaced.token,
      )
    }).pipe(Effect.scoped),
  )

  it.live("a server started twice on one data dir keeps its token", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const dir = yield* tempDir
      const a = yield* node(nets, { dataDir: dir })
      const b = yield* node(nets, { dataDir: dir })
      assert.strictEqual(a.served.token, b.served.token)
      assert.strictEqual(a.served.tokenFile, join(dir, TOKEN_FILE))
      const ok = yield* raw(`${b.served.url}/v1/groups`, {
        headers: { authorization: `Bearer ${a.served.token}` },
      })
      assert.strictEqual(ok.status, 200)
    }).pipe(Effect.scoped),
  )
})
