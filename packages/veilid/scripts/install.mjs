// @save-dweb/veilid's install script, for installs from the registry.
//
// The binding is a compiled veilid-core. Where a prebuilt platform package fits (npm
// installs the optional dependency @save-dweb/veilid-<platform> only where its os, cpu
// and libc match), there is nothing to do. Elsewhere this builds the binding from the Rust
// sources the package ships, with cargo, and says so first: it takes several minutes.
// Without cargo it says what is missing and leaves the install standing; loading the
// package then fails with the same advice.
//
// In the workspace (a checkout) it does nothing: turbo's build:native builds the binding.
import { spawnSync } from "node:child_process"
import { copyFileSync, existsSync } from "node:fs"
import { createRequire } from "node:module"
import { homedir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..")
if (existsSync(join(packageDir, "..", "..", "pnpm-workspace.yaml"))) process.exit(0)

const say = (line) => console.error(`@save-dweb/veilid: ${line}`)

/** napi-rs's name for this platform: linux-x64-gnu, darwin-arm64, ... */
const platformName = () => {
  const { platform, arch } = process
  if (platform !== "linux") return `${platform}-${arch}`
  const glibc = process.report?.getReport?.().header?.glibcVersionRuntime !== undefined
  return `${platform}-${arch}-${glibc ? "gnu" : "musl"}`
}
const platform = platformName()
const file = `veilid.${platform}.node`

const prebuilt = () => {
  if (existsSync(join(packageDir, file))) return true
  const require = createRequire(join(packageDir, "package.json"))
  let binary
  try {
    binary = require.resolve(`@save-dweb/veilid-${platform}`)
  } catch {
    return false
  }
  // npm matched os, cpu and libc, but not the libc's version: the Linux x64 binary needs
  // glibc >= 2.34. One that does not load here is built from source like a missing one.
  try {
    require(binary)
    return true
  } catch (error) {
    say(
      `the prebuilt binding @save-dweb/veilid-${platform} does not load here (it needs glibc >= 2.34 on Linux): ${String(error?.message ?? error).split("\n")[0]}`,
    )
    return false
  }
}
if (prebuilt()) process.exit(0)

say(`no prebuilt binding for ${platform}: building veilid-core from source with cargo.`)
say("The first build compiles veilid-core and takes several minutes (about 8 on 2 cores).")
const cargo = spawnSync("cargo", ["--version"], { encoding: "utf8" })
if (cargo.error || cargo.status !== 0) {
  say(
    "cargo was not found on PATH, so the binding was not built and the package will not load. " +
      "Install Rust 1.89 or newer (https://rustup.rs), then reinstall @save-dweb/veilid.",
  )
  process.exit(0)
}
const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), ".cache")
// CARGO_TARGET_DIR passes through: pointed at the workspace's cache
// (~/.cache/save-dweb/cargo-target), the build reuses the compiled veilid-core.
const targetDir =
  process.env.CARGO_TARGET_DIR || join(cacheHome, "save-dweb", "cargo-target-installed")
// An explicit --target, as napi's build:native passes: cargo keeps a target's artifacts in
// <target dir>/<triple>/, so only with it does a shared target dir's veilid-core fit.
const host = /^host: (\S+)$/m.exec(
  spawnSync("rustc", ["-vV"], { encoding: "utf8" }).stdout ?? "",
)?.[1]
const triple = process.env.CARGO_BUILD_TARGET || host
const started = Date.now()
const build = spawnSync(
  "cargo",
  ["build", "--release", "--locked", "--lib", ...(triple ? ["--target", triple] : [])],
  {
    cwd: packageDir,
    env: { ...process.env, CARGO_TARGET_DIR: targetDir },
    stdio: ["ignore", "inherit", "inherit"],
  },
)
if (build.status !== 0) {
  say(`cargo build failed (exit ${build.status}); the package will not load.`)
  process.exit(1)
}
const library =
  process.platform === "darwin" ? "libsave_dweb_veilid.dylib" : "libsave_dweb_veilid.so"
copyFileSync(
  join(targetDir, ...(triple ? [triple] : []), "release", library),
  join(packageDir, file),
)
say(`built ${file} in ${Math.round((Date.now() - started) / 1000)} s (target dir ${targetDir})`)
