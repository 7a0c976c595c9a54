import { Effect } from "effect"
import { VeilidInvalidArgument } from "./errors.ts"

/**
 * Largest app_call request, app_call reply and app_message, in bytes: veilid-core 0.5.8's
 * `MAX_APP_CALL_Q_MESSAGE_LEN`, `MAX_APP_CALL_A_MESSAGE_LEN` and
 * `MAX_APP_MESSAGE_MESSAGE_LEN` (proto/veilid.capnp).
 */
export const MAX_APP_MESSAGE_BYTES = 32_768

/** Largest value of one DHT subkey, in bytes: veilid-core 0.5.8's `MAX_SUBKEY_SIZE`. */
export const MAX_SUBKEY_BYTES = 32_768

/** Largest total of a DHT record's subkey values, in bytes: veilid-core's `MAX_RECORD_DATA_SIZE`. */
export const MAX_RECORD_BYTES = 1_048_576

/**
 * Refuses `data` longer than `max` before it reaches veilid-core, which would fail later
 * with an `Internal`/`Generic` error (and, for app_call, only after routing the request).
 */
export const checkLength = (
  context: string,
  argument: string,
  data: Uint8Array,
  max: number,
): Effect.Effect<void, VeilidInvalidArgument> =>
  data.length <= max
    ? Effect.void
    : Effect.fail(
        new VeilidInvalidArgument({
          message: `Invalid argument: '${context}' for '${argument}': ${data.length} bytes, at most ${max}`,
          context,
          argument,
          value: `${data.length} bytes`,
        }),
      )
