// Finding the Veilid binding. This package does not depend on
// @save-dweb/veilid (that package's tests depend on this one, and a cycle
// would break turbo's graph); the host process loads the binding by path.
import { existsSync, readdirSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Data } from "effect"
import { ENV_NATIVE } from "./environment.ts"

export class NativeBindingMissing extends Data.TaggedError("NativeBindingMissing")<{
  readonly message: string
}> {}

/** The binding's surface this package uses (contract of @save-dweb/veilid/native). */
export interface NativeBinding {
  readonly defaultConfig: () => string
  readonly VeilidNode: {
    start(configJson: string, onUpdate: (updateJson: string) => void): Promise<NativeNode>
  }
}

export interface NativeNode {
  request(requestJson: string): Promise<string>
  shutdown(): Promise<void>
}

const workspaceRoot = (): string | undefined => {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** Path of the binding's entry: explicit, then $SAVE_DWEB_VEILID_NATIVE, then the workspace. */
export const resolveNativeBinding = (explicit?: string): string | NativeBindingMissing => {
  const candidate = explicit ?? process.env[ENV_NATIVE]
  if (candidate !== undefined && candidate !== "") {
    return existsSync(candidate)
      ? candidate
      : new NativeBindingMissing({ message: `Veilid binding not found at ${candidate}` })
  }
  const root = workspaceRoot()
  const packageJson = root && join(root, "packages", "veilid", "package.json")
  if (packageJson && existsSync(packageJson)) {
    try {
      // Self-reference from inside the package honours its `exports` map.
      const entry = createRequire(packageJson).resolve("@save-dweb/veilid/native")
      // The loader is committed; the compiled addon beside it may not be built yet.
      if (readdirSync(dirname(entry)).some((file) => file.endsWith(".node"))) return entry
    } catch {}
  }
  return new NativeBindingMissing({
    message:
      "the Veilid binding (@save-dweb/veilid/native) is not built: run " +
      "`pnpm exec turbo run build:native --filter=@save-dweb/veilid`, " +
      `or set ${ENV_NATIVE} to its entry file`,
  })
}

/** Loads the binding (ESM or CommonJS entry). */
export const loadNativeBinding = async (path: string): Promise<NativeBinding> => {
  const required = createRequire(import.meta.url)
  let loaded: unknown
  try {
    loaded = required(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_REQUIRE_ESM") throw error
    loaded = await import(path)
  }
  const candidate = loaded as Partial<NativeBinding> & { default?: Partial<NativeBinding> }
  const binding = candidate.VeilidNode ? candidate : candidate.default
  if (!binding?.VeilidNode || typeof binding.defaultConfig !== "function") {
    throw new Error(`${path} does not export VeilidNode and defaultConfig`)
  }
  return binding as NativeBinding
}
