// The behaviour every Tunnels layer must show, as a test suite: the memory layer runs it
// in unit tests, the Veilid layer on a private testnet. Import from
// "@save-dweb/tunnels/compliance" (needs @effect/vitest). One module per topic; they
// share the network of named nodes the layer's test provides.
import { layer } from "@effect/vitest"
import type { Layer } from "effect"
import { accessTests } from "./access.ts"
import { callTests } from "./calls.ts"
import { failureTests } from "./failures.ts"
import { routeTests } from "./routes.ts"
import { streamTests } from "./streams.ts"
import { type ComplianceOptions, makeSuite, type TunnelsNetwork } from "./support.ts"

export {
  type ComplianceNode,
  type ComplianceOptions,
  TunnelsNetwork,
  type TunnelsNetworkShape,
} from "./support.ts"

/** Defines the compliance tests for the layer behind `network`. */
export const tunnelsCompliance = (
  name: string,
  network: Layer.Layer<TunnelsNetwork, unknown>,
  options: ComplianceOptions = {},
) => {
  const suite = makeSuite(options)
  layer(network, { timeout: "600 seconds", excludeTestServices: true })(name, (it) => {
    callTests(it, suite)
    streamTests(it, suite)
    accessTests(it, suite)
    failureTests(it, suite)
    routeTests(it, suite)
  })
}
