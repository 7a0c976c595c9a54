import { integrationTestConfig } from "@save-dweb/vitest-config"

// Runs inside a private testnet namespace: see the `test` script.
export default integrationTestConfig()
