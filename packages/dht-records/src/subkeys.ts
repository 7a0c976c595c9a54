import type { SubkeyRanges } from "@save-dweb/veilid"

/** Sorted, distinct subkeys as Veilid's inclusive ranges: `[0, 1, 2, 5]` → `[[0, 2], [5, 5]]`. */
export const toRanges = (subkeys: Iterable<number>): SubkeyRanges => {
  const sorted = [...new Set(subkeys)].sort((a, b) => a - b)
  const ranges: Array<readonly [number, number]> = []
  for (const subkey of sorted) {
    const last = ranges.at(-1)
    if (last !== undefined && last[1] === subkey - 1) ranges[ranges.length - 1] = [last[0], subkey]
    else ranges.push([subkey, subkey])
  }
  return ranges
}

/** Every subkey of Veilid's inclusive ranges, in order. */
export const fromRanges = (ranges: SubkeyRanges): Array<number> =>
  ranges.flatMap(([start, end]) => Array.from({ length: end - start + 1 }, (_, i) => start + i))

/** Veilid reports "no value" as null (and `ValueSeqNum::NONE`, u32::MAX, in some paths). */
export const seqOrUndefined = (seq: number | null | undefined): number | undefined =>
  seq === null || seq === undefined || seq === 0xffff_ffff ? undefined : seq
