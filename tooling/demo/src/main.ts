// `npm run demo [-- FILE | --size MiB | --self-check]`: alice's and bob's daemons share a
// file over a private Veilid testnet and Iroh, driven through the CLI, every step printed.
// Runs inside `veilid-testnet exec` (the package's `demo` script wraps it);
// `--self-check` runs the offline self-check only.
import { isAbsolute, resolve } from "node:path"
import { insideEnvironment, NotInTestnet } from "@save-dweb/veilid-testnet"
import { Cause, Effect, Exit } from "effect"
import { parseDemoArgs, USAGE } from "./args.ts"
import { DaemonDemoFailed, daemonStepIds, runDaemonDemo } from "./daemons.ts"
import { checkFile, type FileSource } from "./file-source.ts"
import { runSelfCheck } from "./self-check.ts"

const fail = (message: string): never => {
  console.error(`save-dweb demo: ${message}`)
  process.exit(1)
}

const args = (() => {
  const parsed = parseDemoArgs(process.argv.slice(2))
  return typeof parsed === "string" ? fail(`${parsed}\n${USAGE}`) : parsed
})()
if (args.help) {
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
  const [path] = args.files
  if (path !== undefined) {
    // npm and pnpm run scripts from the package's directory; a relative path means the
    // caller's (tooling/toolchain/run.sh passes it on as SAVE_DWEB_DEMO_CWD).
    const base = process.env.SAVE_DWEB_DEMO_CWD ?? process.env.INIT_CWD ?? process.cwd()
    return { _tag: "Path", path: isAbsolute(path) ? path : resolve(base, path) }
  }
  const mib = Number(args.size ?? "8")
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

if (args.selfCheck) await selfCheck()
else await daemons()
