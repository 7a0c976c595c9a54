// A member's writer slot in the group record. The range 0..254 is the one the
// group record's schema gives member writers (Veilid allows at most 256
// writers per schema); it also keeps a slot to one byte in pairing data.
import { Schema } from "effect"

export const MAX_WRITER_SLOT = 254

/** Why `slot` is not a writer slot, or `undefined` when it is one. */
export const checkWriterSlot = (slot: number): string | undefined =>
  Number.isInteger(slot) && slot >= 0 && slot <= MAX_WRITER_SLOT
    ? undefined
    : `expected an integer from 0 to ${MAX_WRITER_SLOT}`

export const WriterSlot = Schema.Number.check(
  Schema.makeFilter(checkWriterSlot, { expected: `an integer from 0 to ${MAX_WRITER_SLOT}` }),
)
