import { Effect, Layer } from "effect"
import { TunnelsNetwork, tunnelsCompliance } from "../src/compliance/index.ts"
import { MemoryNetwork, makeTunnelsMemory } from "../src/index.ts"

const MemoryTunnelsNetwork = Layer.effect(
  TunnelsNetwork,
  Effect.gen(function* () {
    const network = yield* MemoryNetwork
    return {
      node: () => makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, network)),
      killRoute: (_name, routeId) => network.killRoute(routeId),
    }
  }),
).pipe(Layer.provide(MemoryNetwork.layer()))

tunnelsCompliance("Tunnels.layerMemory", MemoryTunnelsNetwork, { timeout: 20_000 })
