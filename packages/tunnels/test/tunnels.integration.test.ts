// The compliance suite over real Veilid nodes on a private testnet
// (tooling/veilid-testnet): run with `pnpm --filter @save-dweb/tunnels test`.

import { decodeConfig, makeVeilid, Veilid, type VeilidShape } from "@save-dweb/veilid"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Layer } from "effect"
import { type ComplianceNode, TunnelsNetwork, tunnelsCompliance } from "../src/compliance/index.ts"
import { makeTunnels } from "../src/index.ts"

const VeilidTunnelsNetwork = Layer.effect(
  TunnelsNetwork,
  Effect.gen(function* () {
    const testnet = yield* withTestnet()
    const start = (name: ComplianceNode) =>
      Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
        makeVeilid(config, { readyTimeout: "90 seconds" }),
      )
    const [alice, bob, carol] = yield* Effect.all([start("alice"), start("bob"), start("carol")], {
      concurrency: 3,
    })
    const nodes: Record<ComplianceNode, VeilidShape> = { alice, bob, carol }
    return {
      node: (name) => makeTunnels().pipe(Effect.provideService(Veilid, nodes[name])),
      // Released underneath the service: veilid-core reports an app-allocated route it
      // released as dead in its next RouteChange update, as it does for a route that died.
      killRoute: (name, routeId) => nodes[name].releasePrivateRoute(routeId),
    }
  }),
)

tunnelsCompliance("Tunnels.layer on a private Veilid testnet", VeilidTunnelsNetwork, {
  timeout: 180_000,
  eventDeadline: 90_000,
  unreachableDeadline: 90_000,
})
