export {
  decodeCredentials,
  encodeCredentials,
  GroupCapability,
  GroupCredentials,
  ManageCapability,
  tierOf,
  writeCapabilityOf,
} from "./credentials.ts"
export {
  type GroupError,
  GroupFull,
  InsufficientCapability,
  InvalidCredentials,
  type InvalidCredentialsReason,
  InvalidInvite,
  type InvalidInviteReason,
  InvalidName,
  InvalidSlot,
  NotAMember,
  SlotRevoked,
} from "./errors.ts"
export type { Group, GroupInfo, Rotation } from "./group.ts"
export {
  type CreateOptions,
  Groups,
  type GroupsShape,
  type JoinOptions,
  makeGroups,
} from "./groups.ts"
export { keyPairFromSeed, type ReplicateKeys } from "./keys.ts"
export type {
  Member,
  Membership,
  MembershipChange,
  RepoPointer,
} from "./membership.ts"
export {
  GroupInfoValue,
  GroupRecord,
  LEGACY_TRANSPORT,
  MANAGER_SLOT,
  MAX_MEMBERS,
  OWNER_SUBKEYS,
  RosterValue,
  SlotValue,
  SourcePolicy,
  slotSubkey,
  Transport,
} from "./record.ts"
export { covers, type Tier, tiers } from "./tier.ts"
