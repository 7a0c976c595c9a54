// Names in a group's values (the group's, its members', their repos') are sealed under a
// key derived from the group secret. A replicate holder (a backup server) opens the values
// themselves with the DHT-value key but holds no group secret, so it reads no name. A
// sealed name is bound to its group and its field: copied to another slot, repo or group,
// it does not open.
import { deriveKey, KeyName, openEnvelope, type SecretKey, sealEnvelope } from "@save-dweb/crypto"
import type { RecordKey } from "@save-dweb/dht-records"
import { DisplayName } from "@save-dweb/uri-scheme"
import { Effect, Schema } from "effect"
import { InsufficientCapability, InvalidName } from "./errors.ts"
import { type Held, isHolding } from "./held.ts"
import { MAX_SEALED_NAME_BYTES } from "./record.ts"

/** Which field a sealed name belongs to: part of what it is bound to. */
export const NameField = {
  group: "group-name",
  member: (slot: number) => `member-name/${slot}`,
  repo: (repo: RecordKey) => `repo-name/${repo}`,
} as const

/** Seals and opens the names of one group. */
export interface Names {
  /** The holder has the names key (read tier and up). */
  readonly readable: boolean
  /** `name` sealed for `field` of this group: read tier and up, at most `MAX_SEALED_NAME_BYTES`. */
  readonly seal: (
    field: string,
    name: string,
  ) => Effect.Effect<Uint8Array, InsufficientCapability | InvalidName>
  /**
   * The name `value` holds for `field`: `undefined` when there is none, when this holder
   * cannot read names (replicate tier, even for a plain one: it never learns a name), or
   * when sealed bytes do not open for this group and field.
   */
  readonly open: (
    field: string,
    value: string | Uint8Array | undefined,
  ) => Effect.Effect<string | undefined>
  /** A plain (legacy) name sealed, a sealed one as it is: what a rewrite of the value writes. */
  readonly reseal: <V extends string | Uint8Array | undefined>(
    field: string,
    value: V,
  ) => Effect.Effect<Exclude<V, string> | Uint8Array, InsufficientCapability | InvalidName>
}

const AD_PREFIX = "save-dweb/group/names/v1\0"
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder("utf-8", { fatal: true })

export const nameAssociatedData = (group: RecordKey, field: string): Uint8Array =>
  utf8.encode(`${AD_PREFIX}${group}\0${field}`)

export const namesKeyOf = (held: Held): SecretKey | undefined =>
  isHolding(held, "read") ? deriveKey(held.groupSecret, KeyName.names) : undefined

/** `name` sealed under the names key, or `InvalidName` when it is too long to be stored. */
const sealName = (key: SecretKey, group: RecordKey, field: string, name: string) => {
  const bytes = utf8.encode(name)
  return bytes.length > MAX_SEALED_NAME_BYTES
    ? Effect.fail(
        new InvalidName({
          name,
          message: `a name is at most ${MAX_SEALED_NAME_BYTES} bytes of UTF-8, this one ${bytes.length}`,
        }),
      )
    : sealEnvelope(key, bytes, { associatedData: nameAssociatedData(group, field) })
}

/** The names of group `group` as `held` reads and writes them. */
export const makeNames = (group: RecordKey, held: Held): Names => {
  const key = namesKeyOf(held)
  const seal = (field: string, name: string) =>
    key === undefined
      ? Effect.fail(
          new InsufficientCapability({
            operation: "sealName",
            required: "read",
            held: held.tier,
            message: `sealing a name needs the read capability; this ${held.tier} link does not have it`,
          }),
        )
      : sealName(key, group, field, name)
  return {
    readable: key !== undefined,
    seal,
    open: (field, value) => {
      if (key === undefined || value === undefined) return Effect.succeed(undefined)
      if (typeof value === "string") return Effect.succeed(value)
      return openEnvelope(key, value, { associatedData: nameAssociatedData(group, field) }).pipe(
        Effect.flatMap((bytes) => Effect.try(() => fromUtf8.decode(bytes))),
        Effect.orElseSucceed(() => undefined),
      )
    },
    reseal: <V extends string | Uint8Array | undefined>(field: string, value: V) =>
      typeof value === "string" ? seal(field, value) : Effect.succeed(value as Exclude<V, string>),
  }
}

/** `names.open`, kept only if it is a display name (a group's or a member's). */
export const openDisplayName = (
  names: Names,
  field: string,
  value: string | Uint8Array | undefined,
): Effect.Effect<string | undefined> =>
  Effect.map(names.open(field, value), (name) =>
    name !== undefined && Schema.is(DisplayName)(name) ? name : undefined,
  )
