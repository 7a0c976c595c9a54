import { Redacted } from "effect"
import { encodeBase64Url } from "./base64url.ts"
import { type Capability, capabilityTier } from "./capability.ts"
import type { Link } from "./link.ts"
import { linkKind } from "./link.ts"
import { LINK_VERSION, SCHEME } from "./link-grammar.ts"
import { encodePairingData } from "./pairing-data.ts"
import { encodeText } from "./percent-encoding.ts"
import type { SecretKey } from "./secret-key.ts"

type Params = ReadonlyArray<readonly [string, string]>

const secret = (key: SecretKey): string => encodeBase64Url(Redacted.value(key))

const nameParams = (name: string | undefined): Params =>
  name === undefined ? [] : [["name", encodeText(name)]]

const capabilityParams = (capability: Capability): Params => {
  switch (capability._tag) {
    case "ReplicateCapability":
      return [
        ["dht", secret(capability.dhtKey)],
        ["auth", secret(capability.authKey)],
      ]
    case "ReadCapability":
      return [["secret", secret(capability.groupSecret)]]
    case "WriteCapability":
      return [
        ["secret", secret(capability.groupSecret)],
        ["slot", String(capability.slot)],
        ["wkey", secret(capability.writerSeed)],
      ]
  }
}

const params = (link: Link): Params => {
  switch (link._tag) {
    case "GroupInvite":
      return [
        ["cap", capabilityTier(link.capability)],
        ["group", link.group],
        ...capabilityParams(link.capability),
        ...nameParams(link.name),
      ]
    case "BackupDescriptor":
      return [
        ["record", link.record],
        ["access", secret(link.accessSecret)],
        ...nameParams(link.name),
      ]
    case "PairingLink":
      return [["data", encodeBase64Url(encodePairingData(link.entries))]]
  }
}

/**
 * Writes the canonical link text. This is the only way to get a link's secrets
 * out as text: treat the result like a password.
 */
export const formatLink = (link: Link): string =>
  `${SCHEME}${linkKind(link)}?${[["v", String(LINK_VERSION)] as const, ...params(link)]
    .map(([name, value]) => `${name}=${value}`)
    .join("&")}`
