// The demo's command line. Node built-ins only: `preflight.ts` checks it before anything
// is installed or built, so a mistyped option fails in a second, not after the build.
import { parseArgs } from "node:util"

export const USAGE = `usage: npm run demo [-- FILE | --size MiB | --self-check]
  FILE          share this file (default: 8 MiB of random bytes)
  --size MiB    size of the random file
  --self-check  the offline crypto and link self-check only (no network, no root)`

export interface DemoArgs {
  readonly selfCheck: boolean
  readonly help: boolean
  readonly size: string | undefined
  readonly files: ReadonlyArray<string>
}

/** The arguments after the script's name, or why they are not the demo's. */
export const parseDemoArgs = (argv: ReadonlyArray<string>): DemoArgs | string => {
  try {
    // `pnpm run demo -- ARGS` passes the `--` on.
    const { values, positionals } = parseArgs({
      args: argv[0] === "--" ? argv.slice(1) : [...argv],
      options: {
        "self-check": { type: "boolean" },
        size: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    })
    if (positionals.length > 1) return "one file at most"
    return {
      selfCheck: values["self-check"] === true,
      help: values.help === true,
      size: values.size,
      files: positionals,
    }
  } catch (error) {
    return (error as Error).message
  }
}
