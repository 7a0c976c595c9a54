import { Effect } from "effect"
import { runSelfCheck } from "./self-check.ts"

let n = 0
const started = performance.now()
console.log(
  "save-dweb demo: crypto and link self-check (the networked demo arrives with the daemon, issue 8)\n",
)
await Effect.runPromise(
  runSelfCheck((step) => {
    n += 1
    console.log(`${String(n).padStart(2)}. ${step.title}\n    ${step.detail}`)
  }),
).catch((error: unknown) => {
  console.error("\ndemo failed:", error)
  process.exit(1)
})
console.log(`\nall ${n} steps verified in ${((performance.now() - started) / 1000).toFixed(1)} s`)
