import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import {
  BackupDescriptor,
  describeLink,
  GroupInvite,
  PairingEntry,
  PairingLink,
  ReadCapability,
  ReplicateCapability,
  WriteCapability,
} from "../src/index.ts"
import { fake, fakeKey } from "./arbitraries.ts"

const secret = (byte: number) => Redacted.make(fake(byte))

describe("describeLink", () => {
  it("names the kind, capability, group key and name", () => {
    const group = fakeKey(0)
    expect(
      describeLink(
        new GroupInvite({
          group,
          capability: new WriteCapability({
            groupSecret: secret(1),
            slot: 7,
            writerSeed: secret(2),
          }),
          name: 'Family "photos"',
        }),
      ),
    ).toBe(`invite to group "Family \\"photos\\"" ${group} with write access (slot 7)`)
    expect(
      describeLink(
        new GroupInvite({ group, capability: new ReadCapability({ groupSecret: secret(1) }) }),
      ),
    ).toBe(`invite to group ${group} with read access`)
    expect(
      describeLink(
        new GroupInvite({
          group,
          capability: new ReplicateCapability({ dhtKey: secret(1), authKey: secret(2) }),
        }),
      ),
    ).toBe(`invite to group ${group} with replicate access`)
  })

  it("describes backup servers and pairings", () => {
    expect(
      describeLink(
        new BackupDescriptor({ record: fakeKey(3), accessSecret: secret(4), name: "Archive box" }),
      ),
    ).toBe(`backup server "Archive box" at ${fakeKey(3)}`)
    const entry = (byte: number) =>
      new PairingEntry({
        group: fakeKey(byte),
        groupSecret: secret(1),
        slot: byte,
        writerSeed: secret(2),
        repo: fakeKey(9),
        repoOwnerSeed: secret(3),
      })
    expect(describeLink(new PairingLink({ entries: [entry(5), entry(6)] }))).toBe(
      `device pairing for 2 groups: ${fakeKey(5)} (slot 5), ${fakeKey(6)} (slot 6)`,
    )
  })
})
