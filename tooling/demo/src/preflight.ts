// Runs before anything is started (and before dependencies are installed: Node built-ins
// only): the demo's private Veilid testnet lives in a Linux network namespace of its own,
// which only root can create. Exits 1 with a clear message otherwise.
import { readFileSync } from "node:fs"
import { parseDemoArgs, USAGE } from "./args.ts"

// CAP_NET_ADMIN (12) and CAP_SYS_ADMIN (21), what `veilid-testnet exec` needs.
const REQUIRED = [12n, 21n]

const effectiveCapabilities = (): bigint | undefined => {
  try {
    const status = readFileSync("/proc/self/status", "utf8")
    const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)
    return match?.[1] === undefined ? 0n : BigInt(`0x${match[1]}`)
  } catch {
    return undefined
  }
}

/** Why the networked demo cannot run here, or undefined when it can. */
export const whyNot = (): string | undefined => {
  if (process.platform !== "linux") {
    return `the demo needs Linux (network namespaces); this is ${process.platform}.`
  }
  const caps = effectiveCapabilities()
  if (caps === undefined) return "cannot read /proc/self/status."
  if (REQUIRED.every((cap) => (caps & (1n << cap)) !== 0n)) return undefined
  return [
    "the demo needs root.",
    "It starts a private Veilid testnet inside a Linux network namespace of its own",
    "(no route out, nothing is sent anywhere), and creating one takes root",
    "(CAP_NET_ADMIN and CAP_SYS_ADMIN). Run it as root, e.g. `sudo npm run demo`.",
    "Without root, `npm run demo -- --self-check` runs the offline crypto and link self-check.",
  ].join("\n  ")
}

const args = parseDemoArgs(process.argv.slice(2))
if (typeof args === "string") {
  console.error(`save-dweb demo: ${args}\n${USAGE}`)
  process.exit(1)
}
if (args.help) {
  console.log(USAGE)
  process.exit(0)
}
const problem = args.selfCheck ? undefined : whyNot()
if (problem !== undefined) {
  console.error(`save-dweb demo: ${problem}`)
  process.exit(1)
}
