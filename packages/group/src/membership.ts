// Who is in the group, computed from the roster and the member slots as read from
// the record: the state a reader holds, how a watch event changes it, and what changed
// between two such views.
import type { PublicKey, RecordKey, WatchEvent } from "@save-dweb/dht-records"
import { ROSTER_SUBKEY, type RosterValue, type SlotValue, slotOfSubkey } from "./record.ts"

/** A current member: its slot holds a member entry and the manager has not revoked it. */
export interface Member {
  readonly slot: number
  readonly name: string | undefined
  /** The member's data-repo DHT record key, once it has set one. */
  readonly repoKey: RecordKey | undefined
  readonly joinedAt: number
  /** Public key that signed the slot's value (the slot's writer). */
  readonly writer: PublicKey
}

/** A member's repo: what data-repo syncs and a backup server replicates. */
export interface RepoPointer {
  readonly slot: number
  readonly repoKey: RecordKey
  readonly memberName: string | undefined
}

export type MembershipChange =
  | { readonly _tag: "Joined"; readonly member: Member }
  | { readonly _tag: "Updated"; readonly member: Member; readonly previous: Member }
  | { readonly _tag: "Left"; readonly slot: number }
  | { readonly _tag: "Revoked"; readonly slot: number }

/** The membership at one moment; `changes` since the previous one in a watch stream. */
export interface Membership {
  readonly members: ReadonlyArray<Member>
  /** Slots the manager revoked: their values are ignored. */
  readonly revoked: ReadonlyArray<number>
  /** The manager rotated the group (the roster points at a rotation notice): write members follow. */
  readonly rotated: boolean
  readonly changes: ReadonlyArray<MembershipChange>
}

export interface SlotEntry {
  readonly value: SlotValue
  readonly writer: PublicKey
  readonly seq: number
}

/** What a reader holds of the record: the roster and the slots it could read. */
export interface GroupState {
  readonly roster: RosterValue | undefined
  /** The roster's sequence number, to drop an older value that arrives late. */
  readonly rosterSeq: number | undefined
  readonly slots: ReadonlyMap<number, SlotEntry>
}

export const revokedOf = (state: GroupState): ReadonlySet<number> =>
  new Set(state.roster?.revoked ?? [])

export const rotatedOf = (state: GroupState): boolean => state.roster?.rotatedTo !== undefined

export const membersOf = (state: GroupState): ReadonlyArray<Member> => {
  const revoked = revokedOf(state)
  const members: Array<Member> = []
  for (const [slot, entry] of [...state.slots].sort(([a], [b]) => a - b)) {
    if (revoked.has(slot) || entry.value._tag !== "Member") continue
    members.push({
      slot,
      name: entry.value.name,
      repoKey: entry.value.repo,
      joinedAt: entry.value.joinedAt,
      writer: entry.writer,
    })
  }
  return members
}

export const reposOf = (members: ReadonlyArray<Member>): ReadonlyArray<RepoPointer> =>
  members.flatMap((m) =>
    m.repoKey === undefined ? [] : [{ slot: m.slot, repoKey: m.repoKey, memberName: m.name }],
  )

const sameMember = (a: Member, b: Member) =>
  a.name === b.name && a.repoKey === b.repoKey && a.joinedAt === b.joinedAt && a.writer === b.writer

/** What changed from `before` to `after`, in slot order. */
export const changesBetween = (
  before: GroupState,
  after: GroupState,
): ReadonlyArray<MembershipChange> => {
  const previous = new Map(membersOf(before).map((m) => [m.slot, m]))
  const current = new Map(membersOf(after).map((m) => [m.slot, m]))
  const wasRevoked = revokedOf(before)
  const changes: Array<MembershipChange> = []
  const slots = [...new Set([...previous.keys(), ...current.keys(), ...revokedOf(after)])]
  for (const slot of slots.sort((a, b) => a - b)) {
    const was = previous.get(slot)
    const is = current.get(slot)
    if (is !== undefined) {
      if (was === undefined) changes.push({ _tag: "Joined", member: is })
      else if (!sameMember(was, is)) changes.push({ _tag: "Updated", member: is, previous: was })
    } else if (revokedOf(after).has(slot)) {
      if (!wasRevoked.has(slot)) changes.push({ _tag: "Revoked", slot })
    } else if (was !== undefined) {
      changes.push({ _tag: "Left", slot })
    }
  }
  return changes
}

/** The state after a watch event (or this node's own write); older values are dropped. */
export const applyEvent = (state: GroupState, event: WatchEvent<unknown>): GroupState => {
  if (event._tag !== "Changed") return state
  // The subkey says which of the record's Schemas decoded the value.
  if (event.subkey === ROSTER_SUBKEY) {
    if (state.rosterSeq !== undefined && state.rosterSeq >= event.seq) return state
    return { ...state, roster: event.value as RosterValue, rosterSeq: event.seq }
  }
  const slot = slotOfSubkey(event.subkey)
  const held = state.slots.get(slot)
  if (slot < 0 || (held !== undefined && held.seq >= event.seq)) return state
  const slots = new Map(state.slots)
  slots.set(slot, { value: event.value as SlotValue, writer: event.writer, seq: event.seq })
  return { ...state, slots }
}

/** The membership of `state`, with the `changes` that led to it. */
export const membershipOf = (
  state: GroupState,
  changes: ReadonlyArray<MembershipChange>,
): Membership => ({
  members: membersOf(state),
  revoked: [...(state.roster?.revoked ?? [])].sort((a, b) => a - b),
  rotated: rotatedOf(state),
  changes,
})
