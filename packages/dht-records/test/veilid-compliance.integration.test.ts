// The compliance suite on a private Veilid testnet (tooling/veilid-testnet): eight
// bootstrap nodes plus two nodes of ours, one per participant. Run inside
// `veilid-testnet exec` (the package's `test` script does).
import { decodeConfig, makeVeilid } from "@save-dweb/veilid"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect } from "effect"
import { dhtRecordsCompliance } from "../src/compliance/index.ts"
import { makeDhtRecords } from "../src/index.ts"

dhtRecordsCompliance("the Veilid layer on a private testnet", {
  participants: Effect.gen(function* () {
    const testnet = yield* withTestnet()
    const node = (name: string) =>
      Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
        makeVeilid(config, { readyTimeout: "90 seconds" }),
      )
    const [a, b] = yield* Effect.all([node("a"), node("b")], { concurrency: 2 })
    return { a: yield* makeDhtRecords(a), b: yield* makeDhtRecords(b) }
  }),
  timeout: 180_000,
  eventDeadline: "90 seconds",
})
