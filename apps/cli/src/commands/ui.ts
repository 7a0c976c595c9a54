// `save-dweb ui`: a one-time sign-in URL for the daemon's web page, opened in a browser.
// The code rides in the URL's fragment, which browsers never send to a server; the page
// exchanges it once for the token and removes it from the address bar and history.
import { spawn } from "node:child_process"
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { UsageError } from "../errors.ts"
import { emit } from "../output.ts"
import { session } from "./common.ts"

const printOnly = Flag.Boolean("print").pipe(
  Flag.withDescription("only print the URL (default: also open it with xdg-open or open)"),
)

/** Opens `url` with the desktop's opener, if there is one; never fails the command. */
const openInBrowser = (url: string) =>
  Effect.sync(() => {
    const opener = process.platform === "darwin" ? "open" : "xdg-open"
    try {
      const child = spawn(opener, [url], { stdio: "ignore", detached: true })
      child.on("error", () => {})
      child.unref()
    } catch {
      // No opener: the printed URL is enough.
    }
  })

export const ui = Command.make("ui", { print: printOnly }, (f) =>
  session(({ client, url, out }) =>
    Effect.gen(function* () {
      if (url.startsWith("unix:")) {
        return yield* new UsageError({
          message:
            "the daemon listens on a unix socket; the web page needs a TCP address (--listen)",
        })
      }
      const { code, expiresAt } = yield* client.signIn.code
      const signIn = `${url}/#code=${code}`
      emit(
        out,
        { url: signIn, expiresAt: new Date(expiresAt).toISOString() },
        (r) => `${r.url}\n(works once, until ${r.expiresAt})`,
      )
      if (!f.print) yield* openInBrowser(signIn)
    }),
  ),
).pipe(
  Command.withDescription(
    "open the daemon's web page: prints a one-time sign-in URL (valid two minutes) and opens it",
  ),
)
