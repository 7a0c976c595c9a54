import { integrationTestConfig } from "@save-dweb/vitest-config"

// Runs inside a private testnet namespace: the `test` script wraps vitest in
// `veilid-testnet exec`. The file starts its own testnet, the backup server as a child
// process and the members' backends in this process.
export default integrationTestConfig({ testTimeout: 600_000, reportName: "integration" })
