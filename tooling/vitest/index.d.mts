import type { UserConfig } from "vitest/config"

export declare const sourceCondition: "@save-dweb/source"

export interface PackageTestOptions {
  readonly include?: ReadonlyArray<string>
  readonly exclude?: ReadonlyArray<string>
  readonly testTimeout?: number
  readonly hookTimeout?: number
  readonly fileParallelism?: boolean
  readonly setupFiles?: ReadonlyArray<string>
  /** Name of the JSON report under test-results/ (one per vitest run). */
  readonly reportName?: string
}

export declare function packageTestConfig(options?: PackageTestOptions): UserConfig

/** Integration tests (`*.integration.test.ts`), one file at a time, report `integration.json`. */
export declare function integrationTestConfig(options?: PackageTestOptions): UserConfig
