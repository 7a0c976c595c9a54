// `npm run demo [-- FILE | --size MiB | --self-check]`: alice's and bob's daemons share a
// file over a private Veilid testnet and Iroh, driven through the CLI, every step printed.
// Runs inside `veilid-testnet exec` (the package's `demo` script wraps it);
// `--self-check` runs the offline self-check only.
import { isAbsolute, resolve } from "node:path"
import { parseArgs } from "node:util"
import { insideEnvironment, NotInTestnet } from "@save-dweb/veilid-testnet"
import { Cause, Effect, Exit } from "effect"
import { DaemonDemoFailed, daemonStepIds, runDaemonDemo } from "./daemons.ts"
import { checkFile, type FileSource } from "./file-source.ts"
import { runSelfCheck } from "./self-check.ts"

const USAGE = `usage: npm run demo [-- FILE | --size MiB | --self-check]
  FILE          share this file (default: 8 MiB of random bytes)
  --size MiB    size of the random file
  --self-check  the offline crypto and link self-check only (no network, no root)`

const fail = (message: string): never => {
  console.error(`save-dweb demo: ${message}`)
  process.exit(1)
}

const { values, positionals } = (() => {
  try {
    // `pnpm run demo -- ARGS` passes the `--` on.
    const args = process.argv.slice(2)
    return parseArgs({
      args: args[0] === "--" ? args.slice(1) : args,
      options: {
        "self-check": { type: "boolean" },
        size: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    })
  } catch (error) {
    return fail(`${(error as Error).message}\n${USAGE}`)
  }
})()
if (values.help) {
  console.log(USAGE)
  process.exit(0)
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

const selfCheck = async () => {
  let n = 0
  const started = performance.now()
  console.log("save-dweb demo: offline crypto and link self-check\n")
  await Effect.runPromise(
    runSelfCheck((step) => {
      n += 1
      console.log(`${String(n).padStart(2)}. ${step.title}\n    ${step.detail}`)
    }),
  ).catch((error: unknown) => fail(`self-check failed: ${String(error)}`))
  console.log(`\nall ${n} steps verified in ${seconds(performance.now() - started)}`)
}

const fileSource = (): FileSource => {
  if (positionals.length > 1) return fail(`one file at most\n${USAGE}`)
  const [path] = positionals
  if (path !== undefined) {
    // npm and pnpm run scripts from the package's directory; a relative path means the
    // caller's (tooling/toolchain/run.sh passes it on as SAVE_DWEB_DEMO_CWD).
    const base = process.env.SAVE_DWEB_DEMO_CWD ?? process.env.INIT_CWD ?? process.cwd()
    return { _tag: "Path", path: isAbsolute(path) ? path : resolve(base, path) }
  }
  const mib = Number(values.size ?? "8")
  if (!Number.isFinite(mib) || mib <= 0) return fail(`--size must be a positive number of MiB`)
  return { _tag: "Random", bytes: Math.round(mib * 1024 * 1024) }
}

const inTestnetOrExit = () => {
  if (insideEnvironment() instanceof NotInTestnet) {
    fail(
      "run this with `npm run demo` (as root) or `pnpm --filter @save-dweb/demo run demo`: " +
        "it must run inside `veilid-testnet exec`, in a network namespace of its own",
    )
  }
}

/** Ctrl-C or SIGTERM interrupts the run; its scope still stops every daemon and node. */
const abortOnSignal = () => {
  const abort = new AbortController()
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: shutting down…`)
      abort.abort()
    })
  }
  return abort.signal
}

const daemons = async () => {
  inTestnetOrExit()
  const file = fileSource()
  await Effect.runPromise(checkFile(file)).catch((error: { message: string }) =>
    fail(error.message),
  )
  console.log(
    "save-dweb demo: alice's and bob's daemons share a file over a private Veilid testnet and Iroh,\n" +
      "driven through the save-dweb CLI\n",
  )
  const exit = await Effect.runPromiseExit(
    runDaemonDemo({
      file,
      report: (step) => {
        const n = String(daemonStepIds.indexOf(step.id) + 1).padStart(2)
        console.log(`${n}. ${step.title}  [${seconds(step.tookMs)}]`)
        for (const line of step.lines) console.log(`    ${line}`)
      },
    }),
    { signal: abortOnSignal() },
  )
  if (Exit.isSuccess(exit)) {
    console.log(
      `\ndone in ${seconds(exit.value.totalMillis)}: ${exit.value.bytes.toLocaleString("en-US")} bytes ` +
        "went from alice's daemon to bob's, encrypted on the way and at rest, verified and identical",
    )
    return
  }
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "Some" && error.value instanceof DaemonDemoFailed) {
    const n = daemonStepIds.indexOf(error.value.step) + 1
    fail(`step ${n} (${error.value.step}) failed: ${error.value.message}`)
  }
  fail(Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : Cause.pretty(exit.cause))
}

if (values["self-check"]) await selfCheck()
else await daemons()
