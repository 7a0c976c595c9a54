import { packageTestConfig } from "@save-dweb/vitest-config"

export default packageTestConfig({
  exclude: ["**/node_modules/**", "**/dist/**", "**/*.integration.test.ts"],
})
