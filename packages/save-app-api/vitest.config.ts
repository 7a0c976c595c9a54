import { packageTestConfig } from "@save-dweb/vitest-config"

export default packageTestConfig()
