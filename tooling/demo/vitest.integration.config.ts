import { integrationTestConfig } from "@save-dweb/vitest-config"

// Runs inside a private testnet namespace: the `test` script wraps vitest in
// `veilid-testnet exec`. The file starts its own testnet and two nodes of ours.
export default integrationTestConfig({ testTimeout: 300_000, reportName: "integration" })
