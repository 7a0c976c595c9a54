import { packageTestConfig } from "@save-dweb/vitest-config"

// Runs inside a private testnet namespace (`veilid-testnet exec`, see the `test` script).
// Each file starts its own testnet, so files run one at a time.
export default packageTestConfig({
  include: ["test/**/*.integration.test.ts"],
  testTimeout: 180_000,
  hookTimeout: 300_000,
  fileParallelism: false,
  reportName: "integration",
})
