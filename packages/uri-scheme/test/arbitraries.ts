// fast-check arbitraries for every link kind, shared by the test files.
import { Redacted } from "effect"
import * as fc from "fast-check"
import { encodeBase64Url } from "../src/base64url.ts"
import { checkDisplayName } from "../src/display-name.ts"
import {
  BackupDescriptor,
  type Capability,
  GroupInvite,
  type Link,
  PairingEntry,
  PairingLink,
  ReadCapability,
  ReplicateCapability,
  WriteCapability,
} from "../src/index.ts"
import { SUPPORTED_CRYPTO_KINDS } from "../src/record-key.ts"

export const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })

export const secret = bytes32.map((bytes) => Redacted.make(bytes))

export const recordKey = fc
  .tuple(
    fc.constantFrom(...SUPPORTED_CRYPTO_KINDS),
    bytes32,
    fc.option(bytes32, { nil: undefined, freq: 3 }),
  )
  .map(
    ([kind, key, second]) =>
      `${kind}:${encodeBase64Url(key)}${second === undefined ? "" : `:${encodeBase64Url(second)}`}`,
  )

/** Names mixing ASCII, any Unicode and emoji graphemes, trimmed to what links accept. */
export const displayName = fc
  .oneof(
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }),
    fc.string({ unit: "binary", minLength: 1, maxLength: 30 }),
    fc.string({ minLength: 1, maxLength: 128 }),
  )
  .filter((name) => checkDisplayName(name) === undefined)

export const slot = fc.integer({ min: 0, max: 254 })

export const optionalName = fc.option(displayName, { nil: undefined })

const withName = (name: string | undefined) => (name === undefined ? {} : { name })

export const capability: fc.Arbitrary<Capability> = fc.oneof(
  fc.record({ dhtKey: secret, authKey: secret }).map((fields) => new ReplicateCapability(fields)),
  fc.record({ groupSecret: secret }).map((fields) => new ReadCapability(fields)),
  fc
    .record({ groupSecret: secret, slot, writerSeed: secret })
    .map((fields) => new WriteCapability(fields)),
)

export const groupInvite = fc
  .record({ group: recordKey, capability, name: optionalName })
  .map(({ name, ...rest }) => new GroupInvite({ ...rest, ...withName(name) }))

export const backupDescriptor = fc
  .record({ record: recordKey, accessSecret: secret, name: optionalName })
  .map(({ name, ...rest }) => new BackupDescriptor({ ...rest, ...withName(name) }))

export const pairingEntry = fc
  .record({
    group: recordKey,
    groupSecret: secret,
    slot,
    writerSeed: secret,
    repo: recordKey,
    repoOwnerSeed: secret,
  })
  .map((fields) => new PairingEntry(fields))

export const pairingLink = fc
  .uniqueArray(pairingEntry, { minLength: 1, maxLength: 6, selector: (entry) => entry.group })
  .map((entries) => new PairingLink({ entries }))

export const link: fc.Arbitrary<Link> = fc.oneof(groupInvite, backupDescriptor, pairingLink)

/** Every secret a link holds, unwrapped, for leak checks. */
export const secretsOf = (value: Link): ReadonlyArray<Uint8Array> => {
  switch (value._tag) {
    case "GroupInvite": {
      const cap = value.capability
      switch (cap._tag) {
        case "ReplicateCapability":
          return [Redacted.value(cap.dhtKey), Redacted.value(cap.authKey)]
        case "ReadCapability":
          return [Redacted.value(cap.groupSecret)]
        case "WriteCapability":
          return [Redacted.value(cap.groupSecret), Redacted.value(cap.writerSeed)]
      }
      break
    }
    case "BackupDescriptor":
      return [Redacted.value(value.accessSecret)]
    case "PairingLink":
      return value.entries.flatMap((entry) => [
        Redacted.value(entry.groupSecret),
        Redacted.value(entry.writerSeed),
        Redacted.value(entry.repoOwnerSeed),
      ])
  }
}

/** Fixed, obviously fake bytes: 32 copies of one value. */
export const fake = (byte: number): Uint8Array => new Uint8Array(32).fill(byte)

export const fakeKey = (byte: number): string => `VLD0:${encodeBase64Url(fake(byte))}`
