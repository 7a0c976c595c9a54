import { packageTestConfig } from "@save-dweb/vitest-config"

// Runs inside a private testnet namespace: `pnpm test:integration` wraps vitest in
// `veilid-testnet exec`. Each file starts its own testnet, so files run one at a time.
export default packageTestConfig({
  include: ["test/**/*.integration.test.ts"],
  testTimeout: 120_000,
  hookTimeout: 240_000,
  fileParallelism: false,
  reportName: "integration",
})
