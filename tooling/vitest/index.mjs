// Shared vitest configuration. Tests read workspace packages from source
// (the `@save-dweb/source` export condition), and every run writes a JSON
// report to `test-results/` that tooling/test-summary adds up for CI.
import { defineConfig } from "vitest/config"

export const sourceCondition = "@save-dweb/source"

const conditions = [sourceCondition, "node", "import", "default"]

/** @param {import("./index.d.mts").PackageTestOptions} [options] */
export function packageTestConfig(options = {}) {
  const reportName = options.reportName ?? "vitest"
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: conditions } },
    test: {
      include: options.include ?? ["test/**/*.test.ts"],
      exclude: options.exclude ?? ["**/node_modules/**", "**/dist/**", "**/*.integration.test.ts"],
      environment: "node",
      pool: "forks",
      testTimeout: options.testTimeout ?? 30_000,
      hookTimeout: options.hookTimeout ?? 120_000,
      fileParallelism: options.fileParallelism ?? true,
      reporters: ["default", ["json", { outputFile: `test-results/${reportName}.json` }]],
      ...(options.setupFiles ? { setupFiles: options.setupFiles } : {}),
    },
  })
}

/**
 * `*.integration.test.ts` against real Veilid and Iroh nodes. The run happens
 * inside a private testnet namespace (a package's `test` script wraps it in
 * `veilid-testnet exec`); each file starts its own testnet, so files run one
 * at a time, with deadlines sized for a loaded two-core machine.
 * @param {import("./index.d.mts").PackageTestOptions} [options]
 */
export function integrationTestConfig(options = {}) {
  return packageTestConfig({
    include: ["test/**/*.integration.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    reportName: "integration",
    ...options,
  })
}
