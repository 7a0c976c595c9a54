import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { fromNativeRejection } from "../src/errors.ts"
import {
  fromApiError,
  VeilidInternal,
  VeilidInvalidArgument,
  VeilidKeyNotFound,
  VeilidNotInitialized,
  VeilidTimeout,
  VeilidTryAgain,
} from "../src/index.ts"

describe("fromApiError", () => {
  it("maps each veilid error kind to its tagged error", () => {
    const cases: ReadonlyArray<readonly [unknown, string, string]> = [
      [{ kind: "NotInitialized" }, "VeilidNotInitialized", "Not initialized"],
      [{ kind: "AlreadyInitialized" }, "VeilidAlreadyInitialized", "Already initialized"],
      [{ kind: "Timeout" }, "VeilidTimeout", "Timeout"],
      [{ kind: "Shutdown" }, "VeilidShutdown", "Shutdown"],
      [{ kind: "TryAgain", message: "no routes" }, "VeilidTryAgain", "TryAgain: no routes"],
      [{ kind: "InvalidTarget", message: "dead" }, "VeilidInvalidTarget", "Invalid target: dead"],
      [{ kind: "NoConnection", message: "x" }, "VeilidNoConnection", "No connection: x"],
      [{ kind: "KeyNotFound", key: "VLD0:abc" }, "VeilidKeyNotFound", "Key not found: VLD0:abc"],
      [
        { kind: "InvalidArgument", context: "set", argument: "subkey", value: "9" },
        "VeilidInvalidArgument",
        "Invalid argument: 'set' for 'subkey' with value '9'",
      ],
      [
        { kind: "MissingArgument", context: "c", argument: "a" },
        "VeilidMissingArgument",
        "Missing argument: 'c' for 'a'",
      ],
      [
        { kind: "ParseError", message: "bad", value: "v" },
        "VeilidParseError",
        "Parse error: 'bad' with value 'v'",
      ],
      [
        { kind: "TransactionNotFound", message: "t" },
        "VeilidTransactionNotFound",
        "Transaction not found: t",
      ],
      [{ kind: "Unimplemented", message: "u" }, "VeilidUnimplemented", "Unimplemented: u"],
      [{ kind: "Generic", message: "g" }, "VeilidInternal", "Generic: g"],
      [{ kind: "Internal", message: "i" }, "VeilidInternal", "Internal: i"],
    ]
    for (const [json, tag, message] of cases) {
      const error = fromApiError(json)
      expect(error._tag).toBe(tag)
      expect(error.message).toBe(message)
    }
  })

  it("keeps the fields of structured kinds", () => {
    const e = fromApiError({ kind: "InvalidArgument", context: "c", argument: "a", value: "v" })
    expect(e).toBeInstanceOf(VeilidInvalidArgument)
    expect(e).toMatchObject({ context: "c", argument: "a", value: "v" })
    expect(fromApiError({ kind: "KeyNotFound", key: "VLD0:k" })).toEqual(
      new VeilidKeyNotFound({ message: "Key not found: VLD0:k", key: "VLD0:k" }),
    )
  })

  it("turns unknown shapes into VeilidInternal without losing them", () => {
    const e = fromApiError({ nope: 1 })
    expect(e).toBeInstanceOf(VeilidInternal)
    expect(e.message).toContain('{"nope":1}')
    expect(fromApiError({ kind: "FutureKind", message: "m" })).toMatchObject({
      _tag: "VeilidInternal",
      kind: "FutureKind",
      message: "FutureKind: m",
    })
  })

  it.effect("errors are yieldable and catchable by tag", () =>
    Effect.gen(function* () {
      const recovered = yield* Effect.fail(
        fromApiError({ kind: "TryAgain", message: "later" }),
      ).pipe(Effect.catchTag("VeilidTryAgain", (e) => Effect.succeed(e.message)))
      expect(recovered).toBe("TryAgain: later")
      const timeout = yield* Effect.flip(Effect.fail(new VeilidTimeout({ message: "Timeout" })))
      expect(timeout._tag).toBe("VeilidTimeout")
    }),
  )
})

describe("fromNativeRejection", () => {
  it("parses the VeilidAPIError JSON that VeilidNode.start rejects with", () => {
    expect(fromNativeRejection(new Error('{"kind":"NotInitialized"}'))).toBeInstanceOf(
      VeilidNotInitialized,
    )
    expect(fromNativeRejection(new Error('{"kind":"TryAgain","message":"x"}'))).toBeInstanceOf(
      VeilidTryAgain,
    )
  })

  it("keeps other rejections as binding errors with their cause", () => {
    const cause = new Error("invalid veilid request: EOF")
    const e = fromNativeRejection(cause)
    expect(e).toMatchObject({
      _tag: "VeilidInternal",
      kind: "Binding",
      message: cause.message,
      cause,
    })
  })
})
