import { integrationTestConfig } from "@save-dweb/vitest-config"

// Runs inside a private testnet namespace (see the `test` script): two built daemons,
// each driven by Debian's chromium through playwright-core.
export default integrationTestConfig({ reportName: "vitest" })
