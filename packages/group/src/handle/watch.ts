// The membership now, then again after each change: the record's watch merged with this
// node's own writes (which Veilid does not report), folded by membership's reducers.
import { Effect, PubSub, Stream } from "effect"
import type { Group } from "../group.ts"
import { applyEvent, changesBetween, membershipOf, rotatedOf } from "../membership.ts"
import { readState } from "../reads.ts"
import { ROSTER_SUBKEY, slotSubkeys } from "../record.ts"
import { type HandleContext, requireTier } from "./context.ts"

export const makeWatch = (ctx: HandleContext): Pick<Group, "watchMembers"> => ({
  watchMembers: (options) =>
    Stream.unwrap(
      Effect.gen(function* () {
        yield* requireTier(ctx, "watchMembers", "replicate")
        const own = yield* PubSub.subscribe(ctx.ownWrites)
        // The watch reports what is newer than the local copies `readState` leaves.
        const initial = yield* readState(ctx.record)
        const updates = ctx.record
          .watch({ ...options, subkeys: [ROSTER_SUBKEY, ...slotSubkeys] })
          .pipe(
            Stream.merge(Stream.fromSubscription(own)),
            Stream.mapAccum(
              () => initial,
              (state, event) => {
                const next = applyEvent(state, event)
                const changes = changesBetween(state, next)
                // A rotation changes no member but is news: write members follow it.
                const news = changes.length > 0 || rotatedOf(next) !== rotatedOf(state)
                return [next, news ? [membershipOf(next, changes)] : []] as const
              },
            ),
          )
        return Stream.concat(Stream.make(membershipOf(initial, [])), updates)
      }),
    ),
})
