// A node's own tunnel route, kept in a subkey of a record it writes (a member's repo record,
// a backup server's descriptor record) for as long as a scope lives: set when the scope
// opens, rewritten when Veilid replaces the route, cleared when the scope closes. Another
// writer of the same record (a paired device, a restarted server) may have put its own
// route there since: closing leaves that one alone.
import {
  type DhtRecordsError,
  type Entry,
  type GetOptions,
  retryOnConflict,
} from "@save-dweb/dht-records"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { Clock, Effect, Option, type Scope, Stream } from "effect"
import type { RouteValue } from "./record.ts"

/** What `publishRoute` needs of an open record whose subkey `K` holds a `RouteValue`. */
export interface RouteSubkey<K extends number> {
  readonly get: (
    subkey: K,
    options?: GetOptions,
  ) => Effect.Effect<Option.Option<Entry<RouteValue>>, DhtRecordsError>
  readonly set: (subkey: K, value: RouteValue) => Effect.Effect<void, DhtRecordsError>
}

export interface PublishRouteOptions {
  /** Starts its log lines (default `data-repo`). */
  readonly logPrefix?: string
}

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i])

/**
 * Publishes the current route of `tunnels` in `subkey` of `record` now, each route that
 * replaces it as it comes, and `null` when the scope closes if the subkey still holds the
 * last route published here. Fails if the first write fails; later ones are logged.
 */
export const publishRoute = <K extends number>(
  record: RouteSubkey<K>,
  subkey: K,
  tunnels: Pick<TunnelsShape, "route" | "routeChanges">,
  options: PublishRouteOptions = {},
): Effect.Effect<void, DhtRecordsError, Scope.Scope> =>
  Effect.gen(function* () {
    const prefix = options.logPrefix ?? "data-repo"
    let mine: Uint8Array | undefined

    // A node with no fresh copy (a second device, a restart, a wiped Veilid store) would
    // write below the network's sequence number and be refused: read the newer value first.
    // When the network does not answer, the local copy decides, and a conflict (the
    // network held newer) brings the newer value here for the next try.
    const held = record.get(subkey, { refresh: true }).pipe(Effect.catch(() => record.get(subkey)))
    const write = (route: Uint8Array | null) =>
      Effect.gen(function* () {
        const current = Option.getOrUndefined(yield* held)?.value.route ?? null
        if (route === null && (current === null || mine === undefined || !sameBytes(current, mine)))
          return false
        yield* record.set(subkey, { route, at: yield* Clock.currentTimeMillis })
        if (route !== null) mine = route
        return true
      }).pipe(retryOnConflict)

    // Registered before the follower fiber, so it runs after that fiber stops.
    yield* Effect.addFinalizer(() =>
      write(null).pipe(
        Effect.flatMap((cleared) =>
          cleared
            ? Effect.logInfo(`${prefix}: route cleared`)
            : Effect.logDebug(`${prefix}: route left as it is (not ours, or none)`),
        ),
        Effect.catch((e) => Effect.logWarning(`${prefix}: could not clear the route`, e)),
      ),
    )
    yield* write((yield* tunnels.route).blob)
    // `routeChanges` starts with the current route, written just above: only a route
    // other than the last one written is new.
    yield* tunnels.routeChanges.pipe(
      Stream.filter((route) => mine === undefined || !sameBytes(route.blob, mine)),
      Stream.runForEach((route) =>
        write(route.blob).pipe(
          Effect.tap(() => Effect.logInfo(`${prefix}: route renewed and published`)),
          Effect.catch((e) => Effect.logWarning(`${prefix}: could not publish the route`, e)),
        ),
      ),
      Effect.forkScoped,
    )
  })
