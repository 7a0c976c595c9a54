// `save-dweb sync [GROUP]`: one pass now, with a progress bar from the daemon's events.
import type { ServerEvent } from "@save-dweb/client"
import { Effect, Fiber, Option, Stream } from "effect"
import { Argument, Command } from "effect/cli"
import { emit, progressBar } from "../output.ts"
import { resolveGroup } from "../session.ts"
import { session } from "./common.ts"

export const sync = Command.make(
  "sync",
  { group: Argument.String("group").pipe(Argument.optional) },
  (f) =>
    session(({ client, out }) =>
      Effect.gen(function* () {
        const keys = Option.isSome(f.group)
          ? [yield* resolveGroup(client, f.group.value)]
          : (yield* client.groups.list).map((g) => g.key)
        const bar = progressBar(out, "syncing")
        const progress = yield* Effect.forkChild(
          client.events.pipe(
            Stream.runForEach((e: ServerEvent) =>
              Effect.sync(() => {
                if (e._tag === "SyncProgress" && keys.includes(e.group))
                  bar.update(e.bytesDone, e.bytesTotal)
              }),
            ),
            Effect.ignore,
          ),
        )
        const reports = yield* Effect.forEach(keys, (key) =>
          Effect.map(client.groups.sync(key), (report) => ({ group: key, ...report })),
        ).pipe(Effect.ensuring(Effect.andThen(Fiber.interrupt(progress), Effect.sync(bar.done))))
        emit(out, reports, (rs) =>
          rs
            .map(
              (r) =>
                `${r.group}: ${r.synced.length} repos synced, ${r.failed.length} failed, ${r.freed} blobs freed` +
                r.failed.map((x) => `\n  ${x.repo}: ${x.error} ${x.message}`).join(""),
            )
            .join("\n"),
        )
      }),
    ),
).pipe(Command.withDescription("fetch every member's current files now (one group, or all)"))
