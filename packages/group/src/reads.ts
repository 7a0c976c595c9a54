// Reading the group record: its info, its roster, one slot, and the whole membership
// state (fetching from the network only what is newer there).
import type { DhtRecordsError, Entry } from "@save-dweb/dht-records"
import { Effect, Option } from "effect"
import { InvalidCredentials } from "./errors.ts"
import type { GroupState, SlotContent, SlotEntry } from "./membership.ts"
import { NameField, type Names, openDisplayName } from "./names.ts"
import {
  type GroupInfoValue,
  INFO_SUBKEY,
  type OpenedGroupRecord,
  ROSTER_SUBKEY,
  type RosterValue,
  type SlotValue,
  slotOfSubkey,
  slotSubkeys,
} from "./record.ts"

export const readInfo = (
  record: OpenedGroupRecord,
  refresh: boolean,
): Effect.Effect<GroupInfoValue, InvalidCredentials | DhtRecordsError> =>
  record.get(INFO_SUBKEY, { refresh }).pipe(
    Effect.flatMap(
      Option.match({
        onNone: () =>
          Effect.fail(
            new InvalidCredentials({
              reason: "NotAGroup",
              message: `${record.key} has no group info`,
            }),
          ),
        onSome: (entry) => Effect.succeed(entry.value),
      }),
    ),
  )

/** The roster, if the record has one yet. */
export const readRoster = (
  record: OpenedGroupRecord,
  refresh: boolean,
): Effect.Effect<RosterValue | undefined, DhtRecordsError> =>
  record
    .get(ROSTER_SUBKEY, { refresh })
    .pipe(Effect.map((entry) => Option.getOrUndefined(Option.map(entry, (e) => e.value))))

export const readSlot = (
  record: OpenedGroupRecord,
  subkey: number,
  refresh: boolean,
): Effect.Effect<Option.Option<Entry<SlotValue>>, DhtRecordsError> =>
  // A subkey computed at run time types as any subkey's value; slot subkeys hold `SlotValue`.
  record.get(subkey, { refresh }) as Effect.Effect<Option.Option<Entry<SlotValue>>, DhtRecordsError>

/** A slot's value with its member's name opened. */
export const openSlot = (
  names: Names,
  slot: number,
  value: SlotValue,
): Effect.Effect<SlotContent> =>
  value._tag === "Left"
    ? Effect.succeed(value)
    : Effect.map(openDisplayName(names, NameField.member(slot), value.name), (name) => ({
        _tag: "Member" as const,
        name,
        repo: value.repo,
        joinedAt: value.joinedAt,
      }))

/** Roster and slots (names opened), fetching from the network only what is newer there. */
export const readState = (
  record: OpenedGroupRecord,
  names: Names,
): Effect.Effect<GroupState, DhtRecordsError> =>
  Effect.gen(function* () {
    const report = yield* record.inspect({
      subkeys: [ROSTER_SUBKEY, ...slotSubkeys],
      scope: "network",
    })
    const held = report.subkeys.filter((s) => s.network !== undefined || s.local !== undefined)
    const fresh = (s: (typeof held)[number]) =>
      s.network !== undefined && (s.local === undefined || s.network > s.local)
    const rosterSeqs = held.find((s) => s.subkey === ROSTER_SUBKEY)
    const rosterEntry =
      rosterSeqs === undefined
        ? Option.none()
        : yield* record.get(ROSTER_SUBKEY, { refresh: fresh(rosterSeqs) })
    // Revoked slots are not even fetched: their values are ignored anyway.
    const revoked = new Set(Option.getOrUndefined(rosterEntry)?.value.revoked ?? [])
    const entries = yield* Effect.forEach(
      held.filter((s) => s.subkey !== ROSTER_SUBKEY && !revoked.has(slotOfSubkey(s.subkey))),
      (s) =>
        readSlot(record, s.subkey, fresh(s)).pipe(
          Effect.flatMap(
            Option.match({
              onNone: () => Effect.succeedNone,
              onSome: ({ value, writer, seq }) => {
                const slot = slotOfSubkey(s.subkey)
                return Effect.map(openSlot(names, slot, value), (content) =>
                  Option.some([slot, { value: content, writer, seq }] as const),
                )
              },
            }),
          ),
          // A slot whose value does not open or decode is nobody's entry.
          Effect.catchTags({
            RecordDecryptFailed: () => Effect.succeed(Option.none()),
            RecordInvalid: () => Effect.succeed(Option.none()),
          }),
        ),
      { concurrency: 8 },
    )
    const slots = new Map<number, SlotEntry>(entries.flatMap((e) => Option.toArray(e)))
    return {
      roster: Option.getOrUndefined(rosterEntry)?.value,
      rosterSeq: Option.getOrUndefined(rosterEntry)?.seq,
      slots,
    }
  })
