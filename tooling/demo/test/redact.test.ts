import { expect, it } from "@effect/vitest"
import { GroupSecret } from "@save-dweb/crypto"
import {
  BackupDescriptor,
  formatLink,
  GroupInvite,
  ReadCapability,
  ReplicateCapability,
  WriteCapability,
} from "@save-dweb/uri-scheme"
import { Effect, Redacted } from "effect"
import { redactLinkText } from "../src/redact.ts"

const group = `VLD0:${"A".repeat(43)}:${"B".repeat(42)}A`

it.effect("a printed link keeps its kind, group and name and loses every secret", () =>
  Effect.gen(function* () {
    const secret = () => Effect.map(GroupSecret.generate, (s) => Redacted.make(Redacted.value(s)))
    const links = [
      GroupInvite.make({
        group,
        name: "Field notes",
        capability: ReadCapability.make({ groupSecret: yield* secret() }),
      }),
      GroupInvite.make({
        group,
        capability: ReplicateCapability.make({ dhtKey: yield* secret(), authKey: yield* secret() }),
      }),
      GroupInvite.make({
        group,
        capability: WriteCapability.make({
          groupSecret: yield* secret(),
          slot: 3,
          writerSeed: yield* secret(),
        }),
      }),
      BackupDescriptor.make({ record: group, accessSecret: yield* secret() }),
    ]
    for (const link of links) {
      const text = formatLink(link)
      const printed = redactLinkText(text)
      const secrets = [...text.matchAll(/[?&](?:secret|wkey|dht|auth|access)=([^&]+)/g)].map(
        (m) => m[1] ?? "",
      )
      expect(secrets.length).toBeGreaterThan(0)
      for (const value of secrets) expect(printed).not.toContain(value)
      expect(printed).toContain(group)
      expect(printed).toMatch(/=<redacted>/)
    }
    expect(redactLinkText(formatLink(links[0] as GroupInvite))).toMatch(/&name=Field%20notes$/)
  }),
)
