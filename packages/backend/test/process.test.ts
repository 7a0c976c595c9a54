// How a process's `--network` choice becomes the backend's network setting; the testnet
// is attached through what the program gives (the backend does not depend on it).
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { veilidNetworkOf } from "../src/index.ts"

describe("veilidNetworkOf", () => {
  it.effect("public needs nothing", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* veilidNetworkOf({ _tag: "Public" }), "public")
    }),
  )

  it.effect("a testnet choice without an attach function is refused", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(veilidNetworkOf({ _tag: "Testnet", node: "alice" }))
      assert.match(error.message, /not supported by this program/)
    }),
  )

  it.effect("a testnet choice uses the given attachment's node config, with its own stores", () =>
    Effect.gen(function* () {
      const asked: Array<string> = []
      const network = yield* veilidNetworkOf({ _tag: "Testnet", node: "alice" }, async () => ({
        nodeConfig: (name) => {
          asked.push(name)
          return { namespace: "run-1", network: { listen: "x" } }
        },
        release: () => {},
      }))
      assert.deepStrictEqual(asked, ["alice"])
      assert.deepStrictEqual(network, { veilidConfig: { namespace: "", network: { listen: "x" } } })
    }),
  )

  it.effect("an attachment that fails says how to run under a testnet", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        veilidNetworkOf({ _tag: "Testnet", node: "alice" }, () => {
          throw new Error("no testnet environment")
        }),
      )
      assert.match(error.message, /veilid-testnet exec --attach NAME.*no testnet environment/)
    }),
  )
})
