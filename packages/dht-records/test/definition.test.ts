import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Schema } from "effect"
import { defineRecord, RecordInvalid, type RecordValue, type ValueAt } from "../src/index.ts"

const Name = Schema.String
const Slot = Schema.Struct({ repo: Schema.String })
const Group = defineRecord("group", { 0: Name, "1..": Slot })
const Repo = defineRecord("repo", { 0: Name, 1: Schema.Uint8Array, "2..4": Schema.Number })

describe("defineRecord", () => {
  it("finds the Schema of fixed subkeys and ranges", () => {
    assert.strictEqual(Group.schemaFor(0), Name)
    assert.strictEqual(Group.schemaFor(1), Slot)
    assert.strictEqual(Group.schemaFor(250), Slot)
    assert.strictEqual(Repo.schemaFor(1), Schema.Uint8Array)
    assert.strictEqual(Repo.schemaFor(4), Schema.Number)
    assert.strictEqual(Repo.schemaFor(5), undefined)
  })

  it("needs every fixed subkey and bounded range in the record; an open range may be empty", () => {
    assert.strictEqual(Group.minSubkeyCount, 1)
    assert.strictEqual(Repo.minSubkeyCount, 5)
    assert.strictEqual(defineRecord("gap", { 3: Name }).minSubkeyCount, 4)
  })

  it("refuses overlapping or malformed subkeys", () => {
    const bad = [
      { 0: Name, "0..2": Name },
      { "1..": Name, 5: Name },
      { "3..1": Name },
      { "01": Name },
      { "-1": Name },
      { "1..x": Name },
      { 1024: Name },
    ] as const
    for (const subkeys of bad) {
      assert.throws(() => defineRecord("bad", subkeys as never), RecordInvalid)
    }
  })

  it("types each subkey's value from its Schema", () => {
    expectTypeOf<ValueAt<typeof Group, 0>>().toEqualTypeOf<string>()
    expectTypeOf<ValueAt<typeof Group, 7>>().toEqualTypeOf<{ readonly repo: string }>()
    expectTypeOf<ValueAt<typeof Repo, 1>>().toEqualTypeOf<Uint8Array<ArrayBufferLike>>()
    expectTypeOf<ValueAt<typeof Repo, 3>>().toEqualTypeOf<number>()
    expectTypeOf<ValueAt<typeof Group, number>>().toEqualTypeOf<RecordValue<typeof Group>>()
    expectTypeOf<RecordValue<typeof Group>>().toEqualTypeOf<string | { readonly repo: string }>()
  })
})
