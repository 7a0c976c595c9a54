import { Effect } from "effect"
import { dhtRecordsCompliance } from "../src/compliance/index.ts"
import { MemoryDhtNetwork, makeMemoryDhtRecords } from "../src/index.ts"

dhtRecordsCompliance("the memory layer", {
  participants: Effect.gen(function* () {
    const network = yield* MemoryDhtNetwork.make()
    return { a: yield* makeMemoryDhtRecords(network), b: yield* makeMemoryDhtRecords(network) }
  }),
  timeout: 20_000,
  eventDeadline: "10 seconds",
})
