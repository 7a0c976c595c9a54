// The behaviour every DhtRecords layer must have, as tests: the memory layer and
// the Veilid layer both run this suite, so the memory one cannot drift. One module per
// topic; they share one pair of participants, made once per suite.
import { layer } from "@effect/vitest"
import { Layer } from "effect"
import { lifecycleTests } from "./lifecycle.ts"
import { readWriteTests } from "./read-write.ts"
import { type ComplianceOptions, makeSuite, Participants, participantsOf } from "./support.ts"
import { valueTests } from "./values.ts"
import { watchTests } from "./watch.ts"
import { writerTests } from "./writers.ts"

export type {
  ComplianceLayers,
  ComplianceOptions,
  ComplianceParticipants,
} from "./support.ts"

/**
 * Defines the compliance tests (vitest, `@effect/vitest`) under `name`. Call it from a
 * test file of each layer with two participants built by that layer
 * (`DhtRecords.layerMemory`, `DhtRecords.layer`).
 */
export const dhtRecordsCompliance = (name: string, options: ComplianceOptions): void => {
  const suite = makeSuite(options)
  layer(Layer.effect(Participants, participantsOf(options.layers)), { excludeTestServices: true })(
    name,
    (it) => {
      readWriteTests(it, suite)
      watchTests(it, suite)
      writerTests(it, suite)
      valueTests(it, suite)
      lifecycleTests(it, suite)
    },
  )
}
