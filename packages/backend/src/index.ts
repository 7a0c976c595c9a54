export {
  Backend,
  type BackendConfig,
  type BackendError,
  type BackendServices,
  type BackendShape,
  type CreateGroupOptions,
  type GroupSummary,
  type JoinGroupOptions,
  type LoadedGroup,
  makeBackend,
  makeRealBackend,
  type PingError,
  type RepoSummary,
  veilidConfigOf,
} from "./backend.ts"
export { GroupAlreadyKnown, InvalidKnownGroup, MemberUnreachable, UnknownGroup } from "./errors.ts"
export {
  decodeKnownGroup,
  encodeKnownGroup,
  KNOWN_GROUPS_DB,
  type KnownGroup,
  type KnownGroupsStore,
  memoryKnownGroups,
  tableStoreKnownGroups,
} from "./known-groups.ts"
