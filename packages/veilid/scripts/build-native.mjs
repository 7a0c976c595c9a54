// Builds the veilid-core binding (src/lib.rs) into veilid.<platform>.node beside index.js,
// and regenerates index.js / index.d.ts, via @napi-rs/cli.
//
// Cargo's target dir lives outside the clone (default ~/.cache/save-dweb/cargo-target)
// so that every clone, CI run and later session on the machine reuses the compiled
// veilid-core: a clean build takes tens of minutes, a rebuild of this crate seconds.
//
// Environment:
//   CARGO_TARGET_DIR       overrides the cache dir
//   VEILID_CARGO_PROFILE   cargo profile to build with (default: release)
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { homedir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

// veilid-core 0.5.8's `rust-version`.
const minimumRust = [1, 89, 0]

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..")

const fail = (message) => {
  console.error(`@save-dweb/veilid build:native: ${message}`)
  process.exit(1)
}

const cargo = spawnSync("cargo", ["--version"], { encoding: "utf8" })
if (cargo.error || cargo.status !== 0) {
  fail(
    `cargo was not found on PATH. Install Rust ${minimumRust.join(".")} or newer with rustup ` +
      "(https://rustup.rs: `curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh`), " +
      "then run the build again.",
  )
}
const version = /cargo (\d+)\.(\d+)\.(\d+)/.exec(cargo.stdout)
if (version) {
  const found = version.slice(1, 4).map(Number)
  const older = found.findIndex((part, i) => part !== minimumRust[i])
  if (older !== -1 && (found[older] ?? 0) < (minimumRust[older] ?? 0)) {
    fail(
      `${cargo.stdout.trim()} is older than Rust ${minimumRust.join(".")}, the minimum for ` +
        "veilid-core 0.5.8. Run `rustup update stable`.",
    )
  }
}

const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), ".cache")
const env = {
  ...process.env,
  CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR || join(cacheHome, "save-dweb", "cargo-target"),
}

const profile = process.env.VEILID_CARGO_PROFILE || "release"
const napi = join(packageDir, "node_modules", ".bin", "napi")
if (!existsSync(napi)) fail("@napi-rs/cli is not installed: run `pnpm install` first.")

const args = [
  "build",
  "--platform",
  ...(profile === "release" ? ["--release"] : ["--profile", profile]),
  "--esm",
  "--js",
  "index.js",
  "--dts",
  "index.d.ts",
  "--",
  "--locked",
]
console.log(`@save-dweb/veilid build:native: napi ${args.join(" ")}`)
console.log(`  CARGO_TARGET_DIR=${env.CARGO_TARGET_DIR}`)
const started = Date.now()
const build = spawnSync(napi, args, { cwd: packageDir, env, stdio: "inherit" })
if (build.error) fail(build.error.message)
if (build.status !== 0) process.exit(build.status ?? 1)
console.log(
  `@save-dweb/veilid build:native: done in ${((Date.now() - started) / 1000).toFixed(0)} s`,
)
