import { Effect, Redacted, Result } from "effect"
import { BackupDescriptor } from "./backup-descriptor.ts"
import { decodeBase64Url } from "./base64url.ts"
import {
  type Capability,
  type CapabilityTier,
  capabilityTiers,
  ReadCapability,
  ReplicateCapability,
  WriteCapability,
} from "./capability.ts"
import { checkDisplayName } from "./display-name.ts"
import { GroupInvite } from "./group-invite.ts"
import type { Link, LinkKind } from "./link.ts"
import { InvalidLink, LegacyLink, type LinkError, UnsupportedVersion } from "./link-error.ts"
import {
  backupLayout,
  inviteLayouts,
  LINK_VERSION,
  MAX_INPUT_LENGTH,
  MAX_LINK_LENGTH,
  MAX_PAIRING_LINK_LENGTH,
  type ParamSpec,
  pairingLayout,
  SCHEME,
  SUPPORTED_VERSIONS,
} from "./link-grammar.ts"
import { decodePairingData } from "./pairing-data.ts"
import { PairingLink } from "./pairing-link.ts"
import { decodeText } from "./percent-encoding.ts"
import { checkRecordKey } from "./record-key.ts"
import { checkKeyLength, type SecretKey } from "./secret-key.ts"
import { checkWriterSlot, MAX_WRITER_SLOT } from "./writer-slot.ts"

interface Param {
  readonly name: string
  readonly value: string
}

type Parsed<A> = Result.Result<A, LinkError>

const invalid = (part: string, reason: string): Result.Result<never, InvalidLink> =>
  Result.fail(new InvalidLink({ part, reason }))

const paramName = /^[a-z]{1,16}$/

// The Rust backend's invite: no kind, no version, owner keys in hex.
const legacyQuery = /(^|&)(dht|enc|pk|sk)=/

/**
 * Chat apps add whitespace around pasted links, and RFC 3986 (appendix C)
 * suggests `<...>` to delimit a URI in text; both are removed. Nothing inside
 * the link is touched.
 */
const unwrap = (text: string): string => {
  const trimmed = text.trim()
  return trimmed.startsWith("<") && trimmed.endsWith(">") ? trimmed.slice(1, -1).trim() : trimmed
}

const tokenize = (query: string): Parsed<ReadonlyArray<Param>> => {
  const params: Array<Param> = []
  const seen = new Set<string>()
  for (const item of query.split("&")) {
    if (item === "") return invalid("query", "empty parameter (a stray '&')")
    const equals = item.indexOf("=")
    const name = equals < 0 ? item : item.slice(0, equals)
    if (!paramName.test(name)) {
      return invalid("query", `parameter ${params.length + 1} has no lower-case name`)
    }
    if (equals < 0) return invalid(name, "has no value")
    if (seen.has(name)) return invalid(name, "appears more than once")
    seen.add(name)
    const value = item.slice(equals + 1)
    if (value === "") return invalid(name, "is empty")
    params.push({ name, value })
  }
  return Result.succeed(params)
}

/**
 * Read before the rest of the query, so that a link from a newer app is
 * reported as such even when the rest of it follows rules this code does not
 * know (new kinds, new parameters).
 */
const checkVersion = (query: string): Parsed<void> => {
  const version = query
    .split("&")
    .find((item) => item.startsWith("v="))
    ?.slice(2)
  if (version === undefined) return invalid("v", `missing (links start <kind>?v=${LINK_VERSION})`)
  if (!/^(0|[1-9][0-9]{0,8})$/.test(version)) return invalid("v", "is not a version number")
  return Number(version) === LINK_VERSION
    ? Result.succeed(undefined)
    : Result.fail(new UnsupportedVersion({ version, supported: SUPPORTED_VERSIONS }))
}

/** Checks names, presence and order against `layout`; returns values by name. */
const matchLayout = (
  params: ReadonlyArray<Param>,
  layout: ReadonlyArray<ParamSpec>,
  what: string,
  knownElsewhere: ReadonlySet<string>,
): Parsed<ReadonlyMap<string, string>> => {
  const position = new Map(layout.map((spec, index) => [spec.name, index]))
  for (const { name } of params) {
    if (!position.has(name)) {
      return invalid(
        name,
        knownElsewhere.has(name)
          ? `is not part of ${what} (it carries only ${layout.map((spec) => spec.name).join(", ")})`
          : `is not a parameter of ${what}`,
      )
    }
  }
  const values = new Map(params.map((param) => [param.name, param.value]))
  for (const spec of layout) {
    if (spec.optional !== true && !values.has(spec.name)) return invalid(spec.name, "missing")
  }
  let last = -1
  for (const { name } of params) {
    const at = position.get(name) ?? -1
    if (at < last) {
      return invalid(
        name,
        `is out of order (the order is ${layout.map((spec) => spec.name).join(", ")})`,
      )
    }
    last = at
  }
  return Result.succeed(values)
}

const required = (values: ReadonlyMap<string, string>, name: string): string =>
  values.get(name) ?? ""

const secretParam = (values: ReadonlyMap<string, string>, name: string): Parsed<SecretKey> => {
  const bytes = decodeBase64Url(required(values, name))
  if (Result.isFailure(bytes)) return invalid(name, bytes.failure)
  const problem = checkKeyLength(bytes.success)
  return problem === undefined
    ? Result.succeed(Redacted.make(bytes.success))
    : invalid(name, problem)
}

const recordKeyParam = (values: ReadonlyMap<string, string>, name: string): Parsed<string> => {
  const key = required(values, name)
  const problem = checkRecordKey(key)
  return problem === undefined ? Result.succeed(key) : invalid(name, problem)
}

const slotParam = (values: ReadonlyMap<string, string>, name: string): Parsed<number> => {
  const text = required(values, name)
  if (!/^(0|[1-9][0-9]{0,2})$/.test(text)) {
    return invalid(name, `expected a decimal integer from 0 to ${MAX_WRITER_SLOT}`)
  }
  const problem = checkWriterSlot(Number(text))
  return problem === undefined ? Result.succeed(Number(text)) : invalid(name, problem)
}

/** The optional `name`, spread into a constructor's fields. */
const nameParam = (values: ReadonlyMap<string, string>): Parsed<{ name?: string }> => {
  const raw = values.get("name")
  if (raw === undefined) return Result.succeed({})
  const text = decodeText(raw)
  if (Result.isFailure(text)) return invalid("name", text.failure)
  const problem = checkDisplayName(text.success)
  return problem === undefined ? Result.succeed({ name: text.success }) : invalid("name", problem)
}

const inviteParams = new Set(Object.values(inviteLayouts).flatMap((l) => l.map((s) => s.name)))

const parseInviteParams = (params: ReadonlyArray<Param>): Parsed<GroupInvite> =>
  Result.gen(function* () {
    const cap = params.find((param) => param.name === "cap")?.value
    if (cap === undefined) return yield* invalid("cap", "missing")
    const tier = capabilityTiers.find((t) => t === cap)
    if (tier === undefined) return yield* invalid("cap", "must be replicate, read or write")
    const values = yield* matchLayout(params, inviteLayouts[tier], `a ${tier} invite`, inviteParams)
    const group = yield* recordKeyParam(values, "group")
    const capability = yield* parseCapability(tier, values)
    const name = yield* nameParam(values)
    return new GroupInvite({ group, capability, ...name })
  })

const parseCapability = (
  tier: CapabilityTier,
  values: ReadonlyMap<string, string>,
): Parsed<Capability> =>
  Result.gen(function* () {
    switch (tier) {
      case "replicate": {
        const dhtKey = yield* secretParam(values, "dht")
        const authKey = yield* secretParam(values, "auth")
        return new ReplicateCapability({ dhtKey, authKey })
      }
      case "read":
        return new ReadCapability({ groupSecret: yield* secretParam(values, "secret") })
      case "write": {
        const groupSecret = yield* secretParam(values, "secret")
        const slot = yield* slotParam(values, "slot")
        const writerSeed = yield* secretParam(values, "wkey")
        return new WriteCapability({ groupSecret, slot, writerSeed })
      }
    }
  })

const parseBackupParams = (params: ReadonlyArray<Param>): Parsed<BackupDescriptor> =>
  Result.gen(function* () {
    const values = yield* matchLayout(params, backupLayout, "a backup link", new Set())
    const record = yield* recordKeyParam(values, "record")
    const accessSecret = yield* secretParam(values, "access")
    const name = yield* nameParam(values)
    return new BackupDescriptor({ record, accessSecret, ...name })
  })

const parsePairingParams = (params: ReadonlyArray<Param>): Parsed<PairingLink> =>
  Result.gen(function* () {
    const values = yield* matchLayout(params, pairingLayout, "a pair link", new Set())
    const bytes = decodeBase64Url(required(values, "data"))
    if (Result.isFailure(bytes)) return yield* invalid("data", bytes.failure)
    const entries = decodePairingData(bytes.success)
    if (Result.isFailure(entries)) return yield* invalid("data", entries.failure)
    return new PairingLink({ entries: entries.success })
  })

const kindOf = (text: string): LinkKind | undefined =>
  text === "invite" || text === "backup" || text === "pair" ? text : undefined

/**
 * Parses a `save+dweb:` link. Surrounding whitespace and one pair of `<...>`
 * are ignored; the scheme is case-insensitive (RFC 3986); everything else must
 * be exactly the canonical text that {@link formatLink} writes.
 */
export const parseLinkResult = (text: string): Result.Result<Link, LinkError> =>
  Result.gen(function* () {
    if (typeof text !== "string") return yield* invalid("link", "is not a string")
    if (text.length > MAX_INPUT_LENGTH) {
      return yield* invalid("link", `is longer than ${MAX_INPUT_LENGTH} characters`)
    }
    const link = unwrap(text)
    if (link.slice(0, SCHEME.length).toLowerCase() !== SCHEME) {
      return yield* invalid("scheme", `expected a link starting with ${SCHEME}`)
    }
    const rest = link.slice(SCHEME.length)
    const question = rest.indexOf("?")
    const kindText = question < 0 ? rest : rest.slice(0, question)
    const query = question < 0 ? "" : rest.slice(question + 1)
    // The Save app shares them as `save+dweb::?dht=...` (two colons), older tools with one.
    if ((kindText === "" || kindText === ":") && legacyQuery.test(query)) {
      return yield* Result.fail(new LegacyLink())
    }
    if (question < 0) return yield* invalid("query", "missing ('?v=1&...' after the kind)")
    yield* checkVersion(query)
    const params = yield* tokenize(query)
    const kind = kindOf(kindText)
    if (kind === undefined) {
      return yield* invalid(
        "kind",
        kindText === ""
          ? "missing (expected invite, backup or pair)"
          : "must be invite, backup or pair",
      )
    }
    const limit = kind === "pair" ? MAX_PAIRING_LINK_LENGTH : MAX_LINK_LENGTH
    if (link.length > limit) {
      return yield* invalid(
        "link",
        `a ${kind} link is at most ${limit} characters, got ${link.length}`,
      )
    }
    switch (kind) {
      case "invite":
        return yield* parseInviteParams(params)
      case "backup":
        return yield* parseBackupParams(params)
      case "pair":
        return yield* parsePairingParams(params)
    }
  })

export const parseLink: (text: string) => Effect.Effect<Link, LinkError> = Effect.fn(
  "UriScheme.parseLink",
)(function* (text: string) {
  return yield* Effect.fromResult(parseLinkResult(text))
})

/** Like {@link parseLinkResult}, but throws the {@link LinkError}. */
export const parseLinkSync = (text: string): Link => {
  const result = parseLinkResult(text)
  if (Result.isFailure(result)) throw result.failure
  return result.success
}

const expectKind =
  <A extends Link>(tag: A["_tag"], expected: string) =>
  (text: string): Effect.Effect<A, LinkError> =>
    Effect.flatMap(parseLink(text), (link) =>
      link._tag === tag
        ? Effect.succeed(link as A)
        : Effect.fail(new InvalidLink({ part: "kind", reason: `expected ${expected}` })),
    )

/** Parses a link that must be a group invite. */
export const parseGroupInvite = expectKind<GroupInvite>("GroupInvite", "an invite link")

/** Parses a link that must be a backup-server descriptor. */
export const parseBackupDescriptor = expectKind<BackupDescriptor>(
  "BackupDescriptor",
  "a backup link",
)

/** Parses a link that must be a device-pairing link. */
export const parsePairingLink = expectKind<PairingLink>("PairingLink", "a pair link")
