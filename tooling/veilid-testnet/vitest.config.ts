import { packageTestConfig } from "@save-dweb/vitest-config"

// The whole run happens inside `veilid-testnet exec` (see the `test` script), so
// unit and integration tests run together here.
export default packageTestConfig({ exclude: ["**/node_modules/**", "**/dist/**"] })
