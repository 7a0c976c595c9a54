export { BackupDescriptor } from "./backup-descriptor.ts"
export {
  Capability,
  type CapabilityTier,
  capabilityTier,
  capabilityTiers,
  ReadCapability,
  ReplicateCapability,
  WriteCapability,
} from "./capability.ts"
export { describeLink } from "./describe-link.ts"
export { DisplayName, MAX_NAME_BYTES } from "./display-name.ts"
export { formatLink } from "./format-link.ts"
export { GroupInvite } from "./group-invite.ts"
export { type Link, type LinkKind, linkKind, linkKinds } from "./link.ts"
export {
  InvalidLink,
  isLinkError,
  LegacyLink,
  type LinkError,
  UnsupportedVersion,
} from "./link-error.ts"
export {
  LINK_VERSION,
  MAX_LINK_LENGTH,
  MAX_PAIRING_LINK_LENGTH,
  SCHEME,
  SUPPORTED_VERSIONS,
} from "./link-grammar.ts"
export { MAX_PAIRING_ENTRIES, PairingEntry, PairingLink } from "./pairing-link.ts"
export {
  parseBackupDescriptor,
  parseGroupInvite,
  parseLink,
  parseLinkResult,
  parseLinkSync,
  parsePairingLink,
} from "./parse-link.ts"
export { RecordKey, SUPPORTED_CRYPTO_KINDS } from "./record-key.ts"
export { makeSecretKey, SECRET_KEY_BYTES, SecretKey } from "./secret-key.ts"
export { MAX_WRITER_SLOT, WriterSlot } from "./writer-slot.ts"
