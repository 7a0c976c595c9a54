import { Effect, type Schema } from "effect"
import { RecordInvalid } from "./errors.ts"

/** The Schema of one subkey's value. Its encoded form must be something CBOR can carry. */
export type SubkeySchema = Schema.Codec<unknown, unknown, never, never>

/** A range of subkeys: `"2..9"` (both inclusive) or `"2.."` (to the end of the record). */
export type SubkeyRange = `${number}..${number}` | `${number}..`

/** Subkeys to Schemas: fixed subkeys by number, ranges by `"a..b"` or `"a.."`. */
export type SubkeyMap = {
  readonly [subkey: number]: SubkeySchema
} & {
  readonly [range: SubkeyRange]: SubkeySchema
}

interface Span {
  readonly start: number
  /** Inclusive; `Infinity` for an open range. */
  readonly end: number
  readonly schema: SubkeySchema
  readonly label: string
}

/** A typed record: which Schema each subkey's value has. Make one with `defineRecord`. */
export interface RecordDefinition<S extends SubkeyMap = SubkeyMap> {
  readonly name: string
  readonly subkeys: S
  /** The Schema for `subkey`, if the definition covers it. */
  readonly schemaFor: (subkey: number) => SubkeySchema | undefined
  /** Subkeys a record needs for every fixed subkey and bounded range (an open range may be empty). */
  readonly minSubkeyCount: number
}

type SubkeysOf<D> = D extends RecordDefinition<infer S> ? S : never
type FixedKeys<S> = Extract<keyof S, number>
type RangeKeys<S> = Exclude<keyof S, number | symbol>
type TypeOf<X> = X extends SubkeySchema ? X["Type"] : never

/** The type of any subkey's value in records of definition `D`. */
export type RecordValue<D> = TypeOf<SubkeysOf<D>[keyof SubkeysOf<D>]>

/**
 * The type of subkey `K`'s value: the fixed subkey's Schema when `K` is a literal that
 * names one, the ranges' Schemas for other literals, and any subkey's for `number`.
 */
export type ValueAt<D, K extends number> = number extends K
  ? RecordValue<D>
  : K extends FixedKeys<SubkeysOf<D>>
    ? TypeOf<SubkeysOf<D>[K]>
    : TypeOf<SubkeysOf<D>[RangeKeys<SubkeysOf<D>>]>

const fixedPattern = /^(0|[1-9]\d*)$/
const rangePattern = /^(0|[1-9]\d*)\.\.(0|[1-9]\d*)?$/

// Veilid's schemas allow at most 1024 subkeys (veilid-core DHTSchema::MAX_SUBKEY_COUNT).
const maxSubkeys = 1024

const definitionError = (message: string) =>
  new RecordInvalid({ key: undefined, subkey: undefined, reason: "Definition", message })

const parseSpans = (name: string, subkeys: SubkeyMap): ReadonlyArray<Span> => {
  const spans: Array<Span> = []
  for (const [label, schema] of Object.entries(subkeys) as Array<[string, SubkeySchema]>) {
    const fixed = fixedPattern.exec(label)
    const range = fixed ? null : rangePattern.exec(label)
    if (fixed) {
      const n = Number(fixed[1])
      spans.push({ start: n, end: n, schema, label })
    } else if (range) {
      const start = Number(range[1])
      const end = range[2] === undefined ? Number.POSITIVE_INFINITY : Number(range[2])
      if (end < start) throw definitionError(`${name}: range ${label} ends before it starts`)
      spans.push({ start, end, schema, label })
    } else {
      throw definitionError(
        `${name}: "${label}" is neither a subkey nor a range like "2..9" or "2.."`,
      )
    }
  }
  spans.sort((x, y) => x.start - y.start)
  for (let i = 1; i < spans.length; i++) {
    const previous = spans[i - 1] as Span
    const span = spans[i] as Span
    if (span.start <= previous.end) {
      throw definitionError(`${name}: subkeys ${previous.label} and ${span.label} overlap`)
    }
  }
  const last = spans.at(-1)
  if (last !== undefined && last.start >= maxSubkeys) {
    throw definitionError(`${name}: subkey ${last.start} is beyond Veilid's ${maxSubkeys} subkeys`)
  }
  return spans
}

/**
 * Declares a typed record: a Schema per fixed subkey and per range.
 *
 * ```ts
 * const Group = defineRecord("group", { 0: GroupName, "1..": MemberSlot })
 * ```
 *
 * Throws `RecordInvalid` (reason `Definition`) for overlapping or malformed keys: a
 * definition is a constant of the program, so a bad one is a bug found at start-up.
 */
export const defineRecord = <const S extends SubkeyMap>(
  name: string,
  subkeys: S,
): RecordDefinition<S> => {
  const spans = parseSpans(name, subkeys)
  const last = spans.at(-1)
  const minSubkeyCount =
    last === undefined ? 0 : Number.isFinite(last.end) ? last.end + 1 : last.start
  return {
    name,
    subkeys,
    minSubkeyCount,
    schemaFor: (subkey) => {
      for (const span of spans) {
        if (subkey < span.start) return undefined
        if (subkey <= span.end) return span.schema
      }
      return undefined
    },
  }
}

/** `defineRecord` as an Effect, for definitions built from input. */
export const makeRecordDefinition = <const S extends SubkeyMap>(
  name: string,
  subkeys: S,
): Effect.Effect<RecordDefinition<S>, RecordInvalid> =>
  Effect.try({
    try: () => defineRecord(name, subkeys),
    catch: (error) =>
      error instanceof RecordInvalid ? error : definitionError(`${name}: ${String(error)}`),
  })
