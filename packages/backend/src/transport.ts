// A group's transport setting (manage tier): `private` keeps every byte on Veilid private
// routes, `direct` lets read-tier members tell each other their Iroh addresses.
import type { Transport } from "@save-dweb/group"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect } from "effect"
import type { GroupRegistry } from "./group-registry.ts"
import type { BackendShape } from "./shape.ts"

export const makeTransportOperations = (
  registry: GroupRegistry,
): Pick<BackendShape, "setTransport"> => ({
  setTransport: Effect.fn("Backend.setTransport")(function* (
    groupKey: RecordKey,
    transport: Transport,
  ) {
    const { group } = yield* registry.loadGroup(groupKey)
    // The serving side reads the setting at each request: the change holds at once.
    yield* group.updateInfo({ transport })
  }),
})
