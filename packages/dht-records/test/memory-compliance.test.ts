import { Effect, Layer } from "effect"
import { dhtRecordsCompliance } from "../src/compliance/index.ts"
import { DhtRecords, MemoryDhtNetwork } from "../src/index.ts"

dhtRecordsCompliance("the memory layer", {
  layers: Effect.map(MemoryDhtNetwork.make(), (network) => {
    const shared = Layer.succeed(MemoryDhtNetwork, network)
    return {
      a: DhtRecords.layerMemory().pipe(Layer.provide(shared)),
      b: DhtRecords.layerMemory().pipe(Layer.provide(shared)),
    }
  }),
  timeout: 20_000,
  eventDeadline: "10 seconds",
})
