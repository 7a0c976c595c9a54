import type { VeilidError, VeilidShape } from "@save-dweb/veilid"
import { Effect, FiberSet, Stream } from "effect"
import { InvalidRouteBlob } from "./errors.ts"
import { type Transport, TransportError, type TransportErrorKind } from "./transport.ts"

const kindOf = (error: VeilidError): TransportErrorKind => {
  switch (error._tag) {
    case "VeilidTimeout":
      return "Timeout"
    case "VeilidInvalidTarget":
      return "Unreachable"
    case "VeilidNoConnection":
      // veilid-core gave up on an imported route (after two timeouts, measured on 0.5.8):
      // it will not come back until its blob is imported again. Other "no connection"
      // errors (our node offline) may pass.
      return /remote private route/i.test(error.message) ? "Unreachable" : "Other"
    case "VeilidTryAgain":
      return "TryAgain"
    case "VeilidInvalidArgument":
    case "VeilidMissingArgument":
    case "VeilidParseError":
      return "Rejected"
    default:
      return "Other"
  }
}

const toTransportError = (error: VeilidError) =>
  new TransportError({ kind: kindOf(error), message: `${error._tag}: ${error.message}` })

/** Frames over a Veilid node: app_call/app_message to private routes, updates as inbound. */
export const veilidTransport = (veilid: VeilidShape): Transport => ({
  allocateRoute: veilid.newPrivateRoute().pipe(Effect.mapError(toTransportError)),
  releaseRoute: (routeId) => veilid.releasePrivateRoute(routeId).pipe(Effect.ignore),
  importRoute: (blob) =>
    veilid.importRemotePrivateRoute(blob).pipe(
      Effect.mapError(
        (cause) =>
          new InvalidRouteBlob({
            message: `Veilid cannot import the route blob: ${cause.message}`,
            cause,
          }),
      ),
    ),
  call: (target, message) =>
    veilid.appCall(target, message).pipe(Effect.mapError(toTransportError)),
  send: (target, message) =>
    veilid.appMessage(target, message).pipe(Effect.mapError(toTransportError)),
  listen: (inbound) =>
    Effect.gen(function* () {
      const updates = yield* veilid.subscribe
      // One fiber per inbound call: a handler may hold a reply briefly (long poll) and must
      // not stall the calls behind it. The engine bounds how many it holds.
      const fibers = yield* FiberSet.make()
      yield* updates.pipe(
        Stream.runForEach((update) => {
          switch (update._tag) {
            case "AppCall":
              return FiberSet.run(
                fibers,
                inbound.onCall(update.routeId, update.message).pipe(
                  Effect.flatMap((reply) =>
                    reply === undefined ? Effect.void : veilid.appCallReply(update.callId, reply),
                  ),
                  Effect.ignore,
                ),
              )
            case "AppMessage":
              return FiberSet.run(fibers, inbound.onMessage(update.routeId, update.message))
            case "RouteChange":
              return inbound.onRouteChange({
                deadRoutes: update.deadRoutes,
                deadRemoteRoutes: update.deadRemoteRoutes,
              })
            default:
              return Effect.void
          }
        }),
        Effect.forkScoped,
      )
    }),
})
