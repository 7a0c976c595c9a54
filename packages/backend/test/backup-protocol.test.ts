// The backup server's wire format: requests and responses round-trip, anything else is
// refused with a message that quotes nothing, and the two keys of an access secret differ.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Result } from "effect"
import {
  type BackupRequest,
  type BackupResponse,
  backupKeysOf,
  decodeBackupRequest,
  decodeBackupResponse,
  encodeBackupRequest,
  encodeBackupResponse,
} from "../src/index.ts"

const requests: ReadonlyArray<BackupRequest> = [
  { _tag: "Add", v: 1, link: "save+dweb:invite?v=1&cap=replicate" },
  { _tag: "List", v: 1 },
  { _tag: "Remove", v: 1, group: "VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
]

const responses: ReadonlyArray<BackupResponse> = [
  { _tag: "Added", v: 1, group: "VLD0:g", name: "Trip", already: false },
  {
    _tag: "Groups",
    v: 1,
    groups: [
      {
        key: "VLD0:g",
        name: null,
        tier: "replicate",
        repos: 3,
        synced: 2,
        failed: 1,
        lastSyncAt: 5,
      },
    ],
  },
  { _tag: "Removed", v: 1, group: "VLD0:g", held: true, freed: 12 },
  { _tag: "Rejected", v: 1, reason: "NotReplicateLink", message: "send a replicate link" },
]

const utf8 = new TextEncoder()

describe("backup protocol", () => {
  it("requests and responses round-trip", () => {
    for (const request of requests) {
      assert.deepStrictEqual(
        Result.getOrThrow(decodeBackupRequest(encodeBackupRequest(request))),
        request,
      )
    }
    for (const response of responses) {
      assert.deepStrictEqual(
        Result.getOrThrow(decodeBackupResponse(encodeBackupResponse(response))),
        response,
      )
    }
  })

  it("anything else is refused without quoting it", () => {
    const bad = [
      new Uint8Array([0xff, 0xfe, 0xfd]),
      utf8.encode("{"),
      utf8.encode('{"_tag":"Add","v":2,"link":"x"}'),
      utf8.encode('{"_tag":"Drop","v":1}'),
      utf8.encode('{"_tag":"Remove","v":1,"group":""}'),
      utf8.encode(JSON.stringify({ _tag: "Add", v: 1, link: "s".repeat(9000) })),
      utf8.encode(`{"_tag":"Add","v":1,"link":"secret-text-here","extra":${"[".repeat(50)}]`),
    ]
    for (const bytes of bad) {
      const result = decodeBackupRequest(bytes)
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) assert.notInclude(result.failure, "secret-text-here")
    }
    const badResponse = utf8.encode('{"_tag":"Groups","v":1,"groups":[{"key":"k","tier":"read"}]}')
    assert.isTrue(Result.isFailure(decodeBackupResponse(badResponse)))
    // Random bytes never decode, and never throw.
    for (let i = 0; i < 500; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(1 + (i % 64)))
      assert.isTrue(Result.isFailure(decodeBackupRequest(bytes)))
      assert.isTrue(Result.isFailure(decodeBackupResponse(bytes)))
    }
  })

  it.effect("an access secret gives distinct route and request keys, the same each time", () =>
    Effect.gen(function* () {
      const secret = new Uint8Array(32).fill(1)
      const one = yield* backupKeysOf(secret)
      const two = yield* backupKeysOf(Uint8Array.from(secret))
      const hex = (k: Redacted.Redacted<Uint8Array>) =>
        Buffer.from(Redacted.value(k)).toString("hex")
      assert.strictEqual(hex(one.route), hex(two.route))
      assert.strictEqual(hex(one.requests), hex(two.requests))
      assert.notStrictEqual(hex(one.route), hex(one.requests))
      assert.notStrictEqual(hex(one.route), Buffer.from(secret).toString("hex"))
      const other = yield* backupKeysOf(new Uint8Array(32).fill(2))
      assert.notStrictEqual(hex(other.route), hex(one.route))
    }),
  )
})
