// The compliance suite on a private Veilid testnet (tooling/veilid-testnet): eight
// bootstrap nodes plus two nodes of ours, one per participant. Run inside
// `veilid-testnet exec` (the package's `test` script does).
import { decodeConfig, Veilid } from "@save-dweb/veilid"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Layer } from "effect"
import { dhtRecordsCompliance } from "../src/compliance/index.ts"
import { DhtRecords } from "../src/index.ts"

dhtRecordsCompliance("the Veilid layer on a private testnet", {
  layers: Effect.map(withTestnet(), (testnet) => {
    const node = (name: string) =>
      Layer.unwrap(
        Effect.map(decodeConfig(testnet.nodeConfig(name)), (config) =>
          Veilid.layer(config, { readyTimeout: "90 seconds" }),
        ),
      )
    return {
      a: DhtRecords.layer().pipe(Layer.provide(node("a"))),
      b: DhtRecords.layer().pipe(Layer.provide(node("b"))),
    }
  }),
  timeout: 180_000,
  eventDeadline: "90 seconds",
})
