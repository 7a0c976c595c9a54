// The group's read-modify-writes (info, roster, own slot, entering a slot) retry on
// `RecordConflict` with dht-records' one helper: four retries after the first try, as
// many members may write the roster at once.
import { retryOnConflict } from "@save-dweb/dht-records"
import type { Effect } from "effect"

const GROUP_CONFLICT_RETRIES = 4

export const retryConflicts = <A, E extends { readonly _tag: string }, R>(
  self: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R> => retryOnConflict(self, { times: GROUP_CONFLICT_RETRIES })
