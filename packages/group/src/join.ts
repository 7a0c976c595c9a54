// Joining: an invite (link text, parsed, or credentials) as credentials, and a write
// link's member entry in its slot.
import { type GroupInvite, parseGroupInvite } from "@save-dweb/uri-scheme"
import { Clock, Effect, Option } from "effect"
import { GroupCredentials } from "./credentials.ts"
import { InvalidInvite, SlotRevoked } from "./errors.ts"
import { makeNames, NameField, openDisplayName } from "./names.ts"
import type { Opened, OwnSlot } from "./open.ts"
import { readRoster, readSlot } from "./reads.ts"
import { slotSubkey } from "./record.ts"
import { retryConflicts } from "./retry.ts"

export const toCredentials = (invite: string | GroupInvite | GroupCredentials) =>
  typeof invite === "string"
    ? parseGroupInvite(invite).pipe(
        Effect.mapError(
          (cause) =>
            new InvalidInvite({
              reason: "Malformed",
              message: `not a group invite: ${cause.message}`,
              cause,
            }),
        ),
        Effect.map(GroupCredentials.fromInvite),
      )
    : Effect.succeed(
        invite instanceof GroupCredentials ? invite : GroupCredentials.fromInvite(invite),
      )

/** Puts the member's entry in its slot, unless the slot was revoked or its member left. */
export const enterSlot = Effect.fnUntraced(function* (
  opened: Opened,
  own: OwnSlot,
  memberName: string | undefined,
) {
  const group = opened.credentials.group
  const { slot } = own
  const roster = yield* readRoster(opened.record, true)
  if (roster?.revoked.includes(slot)) {
    return yield* new SlotRevoked({
      group,
      slot,
      message: `slot ${slot} of group ${group} was revoked`,
    })
  }
  const subkey = slotSubkey(slot)
  const field = NameField.member(slot)
  const names = makeNames(group, opened.held)
  const joinedAt = yield* Clock.currentTimeMillis
  yield* Effect.gen(function* () {
    const current = Option.getOrUndefined(yield* readSlot(own.record, subkey, true))?.value
    if (current?._tag === "Left") {
      return yield* new InvalidInvite({
        reason: "SlotLeft",
        message: `the member of slot ${slot} left group ${group}; ask for a new invite`,
      })
    }
    // Joining again (another device, a retried join) keeps the entry's repo and time, and
    // writes only to change the name (or to seal a plain one an older version left).
    const currentName = yield* openDisplayName(names, field, current?.name)
    if (
      current !== undefined &&
      typeof current.name !== "string" &&
      (memberName === undefined || currentName === memberName)
    ) {
      return
    }
    const name =
      memberName !== undefined
        ? yield* names.seal(field, memberName)
        : yield* names.reseal(field, current?.name)
    yield* own.record.set(subkey, {
      _tag: "Member",
      ...(current?.repo === undefined ? {} : { repo: current.repo }),
      ...(name === undefined ? {} : { name }),
      joinedAt: current?.joinedAt ?? joinedAt,
    })
  }).pipe(retryConflicts)
})
