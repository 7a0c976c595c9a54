// The `data` parameter of a pairing link: base64url of this binary form.
//
//   u8 format (1) | u8 entry count (1..64) | entry * count
//   entry = six fields, each a u8 length then that many bytes:
//     group record key  (4 ASCII kind bytes + 32 or 64 key bytes)
//     group secret      (32)
//     writer slot       (1; 0..254)
//     writer seed       (32)
//     repo record key   (4 ASCII kind bytes + 32 or 64 key bytes)
//     repo owner seed   (32)
//
// Nothing may follow the last entry.
import { Redacted, Result } from "effect"
import { checkPairingEntries, MAX_PAIRING_ENTRIES, PairingEntry } from "./pairing-link.ts"
import { recordKeyFromBytes, recordKeyToBytes } from "./record-key.ts"
import { checkKeyLength } from "./secret-key.ts"
import { checkWriterSlot } from "./writer-slot.ts"

export const PAIRING_DATA_FORMAT = 1

export const encodePairingData = (entries: ReadonlyArray<PairingEntry>): Uint8Array => {
  const fields: Array<Uint8Array> = []
  for (const entry of entries) {
    fields.push(
      recordKeyToBytes(entry.group),
      Redacted.value(entry.groupSecret),
      Uint8Array.of(entry.slot),
      Redacted.value(entry.writerSeed),
      recordKeyToBytes(entry.repo),
      Redacted.value(entry.repoOwnerSeed),
    )
  }
  const size = 2 + fields.reduce((sum, field) => sum + 1 + field.length, 0)
  const out = new Uint8Array(size)
  out[0] = PAIRING_DATA_FORMAT
  out[1] = entries.length
  let at = 2
  for (const field of fields) {
    out[at++] = field.length
    out.set(field, at)
    at += field.length
  }
  return out
}

const fieldNames = [
  "group record key",
  "group secret",
  "writer slot",
  "writer seed",
  "repo record key",
  "repo owner seed",
] as const

export const decodePairingData = (
  bytes: Uint8Array,
): Result.Result<ReadonlyArray<PairingEntry>, string> => {
  if (bytes.length < 2) return Result.fail(`only ${bytes.length} bytes`)
  if (bytes[0] !== PAIRING_DATA_FORMAT) {
    return Result.fail(`format ${bytes[0]} is not supported (supported: ${PAIRING_DATA_FORMAT})`)
  }
  const count = bytes[1] ?? 0
  if (count === 0 || count > MAX_PAIRING_ENTRIES) {
    return Result.fail(`${count} entries, expected 1 to ${MAX_PAIRING_ENTRIES}`)
  }
  let at = 2
  const entries: Array<PairingEntry> = []
  for (let e = 0; e < count; e++) {
    const fields: Array<Uint8Array> = []
    for (const fieldName of fieldNames) {
      const where = `entry ${e + 1} ${fieldName}`
      const length = bytes[at]
      if (length === undefined || at + 1 + length > bytes.length) {
        return Result.fail(`${where}: the data ends early`)
      }
      fields.push(bytes.slice(at + 1, at + 1 + length))
      at += 1 + length
    }
    const [groupBytes, groupSecret, slotBytes, writerSeed, repoBytes, repoOwnerSeed] = fields as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ]
    const group = recordKeyFromBytes(groupBytes)
    if (Result.isFailure(group))
      return Result.fail(`entry ${e + 1} group record key: ${group.failure}`)
    const repo = recordKeyFromBytes(repoBytes)
    if (Result.isFailure(repo))
      return Result.fail(`entry ${e + 1} repo record key: ${repo.failure}`)
    const secrets = [
      ["group secret", groupSecret],
      ["writer seed", writerSeed],
      ["repo owner seed", repoOwnerSeed],
    ] as const
    for (const [fieldName, secret] of secrets) {
      const problem = checkKeyLength(secret)
      if (problem !== undefined) return Result.fail(`entry ${e + 1} ${fieldName}: ${problem}`)
    }
    if (slotBytes.length !== 1) {
      return Result.fail(`entry ${e + 1} writer slot: expected 1 byte, got ${slotBytes.length}`)
    }
    const slot = slotBytes[0] ?? 0
    const slotProblem = checkWriterSlot(slot)
    if (slotProblem !== undefined) {
      return Result.fail(`entry ${e + 1} writer slot: ${slot} is out of range, ${slotProblem}`)
    }
    entries.push(
      new PairingEntry({
        group: group.success,
        groupSecret: Redacted.make(groupSecret),
        slot,
        writerSeed: Redacted.make(writerSeed),
        repo: repo.success,
        repoOwnerSeed: Redacted.make(repoOwnerSeed),
      }),
    )
  }
  if (at !== bytes.length) {
    return Result.fail(`${bytes.length - at} bytes after the last entry`)
  }
  const problem = checkPairingEntries(entries)
  return problem === undefined ? Result.succeed(entries) : Result.fail(problem)
}
