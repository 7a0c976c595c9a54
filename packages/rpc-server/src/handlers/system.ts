// The system and node routes: health, status, the event stream and shutdown.
import { Api, type ServerEvent } from "@save-dweb/client"
import { Clock, Deferred, Effect, Stream } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { type HandlerDeps, HEARTBEAT } from "./shared.ts"

export const systemRoutes = (_deps: HandlerDeps) =>
  HttpApiBuilder.group(Api, "system", (h) =>
    h.handle("health", () => Effect.succeed({ ok: true as const, api: "v1" as const })),
  )

export const nodeRoutes = (deps: HandlerDeps) => {
  const { backend, closing } = deps
  return HttpApiBuilder.group(Api, "node", (h) =>
    h
      .handle("status", () =>
        Effect.map(backend.status, (s) => ({
          veilid: s.network ?? null,
          iroh: s.iroh ?? null,
          groups: s.groups,
        })),
      )
      .handle("events", () =>
        Effect.gen(function* () {
          // Subscribed before the answer starts, and the first event is a heartbeat: a
          // client that has read one misses nothing that happens after. The subscription
          // lives in the request's scope, which the server closes however the request
          // ends: the stream written out and ended, or the connection closed, even before
          // the answer started (the stream is then never run).
          const events = (yield* backend.subscribe) as Stream.Stream<ServerEvent>
          const heartbeat: Stream.Stream<ServerEvent> = Stream.tick(HEARTBEAT).pipe(
            Stream.mapEffect(() =>
              Effect.map(Clock.currentTimeMillis, (at): ServerEvent => ({ _tag: "Heartbeat", at })),
            ),
          )
          return Stream.concat(
            Stream.take(heartbeat, 1),
            Stream.merge(events, Stream.drop(heartbeat, 1)),
          ).pipe(
            // Ended when the server stops, so its shutdown does not wait for listeners.
            Stream.interruptWhen(Deferred.await(closing)),
          )
        }),
      ),
  )
}
