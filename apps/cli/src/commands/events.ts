// `save-dweb events`: the daemon's server-sent events as JSON lines.
import { Console, Stream } from "effect"
import { Command } from "effect/cli"
import { session } from "./common.ts"

export const events = Command.make("events", {}, () =>
  session(({ client }) =>
    client.events.pipe(Stream.runForEach((e) => Console.log(JSON.stringify(e)))),
  ),
).pipe(Command.withDescription("print the daemon's events as JSON lines until interrupted"))
