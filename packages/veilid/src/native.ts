import { Effect } from "effect"
import type * as Native from "../index.js"
import { bindingError, type VeilidError } from "./errors.ts"

export type NativeModule = typeof Native
export type NativeNode = Native.VeilidNode

let loading: Promise<NativeModule> | undefined

/**
 * The compiled binding, loaded on first use so that importing the facade (types, errors,
 * config helpers) works before `build:native` has run.
 */
export const loadNative: Effect.Effect<NativeModule, VeilidError> = Effect.tryPromise({
  try: () => {
    loading ??= import("../index.js")
    return loading
  },
  catch: (cause) => {
    loading = undefined
    return bindingError(
      "the native Veilid binding is not built: run `pnpm --filter @save-dweb/veilid build:native`",
      cause,
    )
  },
})
