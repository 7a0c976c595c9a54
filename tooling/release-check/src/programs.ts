// The programs as a person gets them: `npm install -g` of the CLI (which brings the
// daemon and puts `save-dweb-daemon` on PATH too) and the backup server from the run's
// registry into a temporary prefix, then run from there: `--version` and `--help`, and
// (with a testnet, as root) a daemon on a private testnet that adds a file and reads it
// back through the installed CLI.
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { npmEnvironment } from "./registry.ts"

export interface ProgramsOptions {
  readonly work: string
  /** npm options that select the run's registry. */
  readonly npmOptions: ReadonlyArray<string>
  readonly testnet: boolean
  /** Node 22.0.0, the oldest `engines` allows, to run the programs' `--version`/`--help` with too. */
  readonly oldestNode?: { readonly version: string; readonly path: string }
}

const find = (dir: string, test: (path: string) => boolean): Array<string> =>
  readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) return find(path, test)
    return test(path) ? [path] : []
  })

/** What a machine with only Node and npm lacks: Rust, a C toolchain, Python (node-gyp's). */
const BUILD_TOOLS = [
  "cargo",
  "rustc",
  "cc",
  "gcc",
  "g++",
  "c++",
  "clang",
  "make",
  "python3",
  "python",
]

/**
 * A PATH whose first entry holds the build tools as scripts that fail and leave a mark,
 * as on a machine with only Node and npm; `called` tells which of them anything ran.
 */
export const withoutBuildTools = (
  work: string,
): { readonly path: string; readonly called: () => Array<string> } => {
  const bin = join(work, "no-build-tools-bin")
  const marks = join(work, "build-tools-called")
  mkdirSync(bin, { recursive: true })
  mkdirSync(marks, { recursive: true })
  for (const tool of BUILD_TOOLS) {
    writeFileSync(join(bin, tool), `#!/bin/sh\ntouch ${join(marks, tool)}\nexit 127\n`, {
      mode: 0o755,
    })
  }
  return { path: `${bin}:${process.env.PATH ?? ""}`, called: () => readdirSync(marks) }
}

/**
 * `npm install --omit=optional @save-dweb/veilid` (the platform package with the prebuilt
 * binding left out) in a new project `name` with `env` added; fails unless it exits 0 and
 * its output holds every `expected` line. Returns the project dir and the output.
 */
const installWithoutPrebuilt = (
  options: ProgramsOptions,
  name: string,
  env: Readonly<Record<string, string>>,
  expected: ReadonlyArray<string>,
) => {
  const dir = join(options.work, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, "package.json"),
    `{ "name": "${name}", "private": true, "type": "module" }\n`,
  )
  const install = spawnSync(
    "npm",
    [
      "install",
      "--omit=optional",
      "--foreground-scripts",
      "--no-audit",
      "--no-fund",
      ...options.npmOptions,
      "@save-dweb/veilid",
    ],
    {
      cwd: dir,
      encoding: "utf8",
      env: { ...npmEnvironment(), ...env },
      maxBuffer: 64 * 1024 * 1024,
    },
  )
  const said = `${install.stdout}${install.stderr}`
  const missing = expected.filter((line) => !said.includes(line))
  if (install.status !== 0 || missing.length > 0) {
    throw new Error(
      `npm install --omit=optional @save-dweb/veilid in ${name} (exit ${install.status}) did not say: ${missing.join("; ")}\n${said.slice(-2000)}`,
    )
  }
  return { dir, said }
}

const buildsFromSource =
  "no prebuilt binding for linux-x64-gnu: building veilid-core from source with cargo"

/**
 * Where no prebuilt binding fits (here: the optional platform package left out), the
 * binding's install script says that it builds from source, and what is missing.
 */
export const checkSourceBuildNotice = (options: ProgramsOptions): void => {
  const noTools = withoutBuildTools(options.work)
  const { said } = installWithoutPrebuilt(options, "no-prebuilt", { PATH: noTools.path }, [
    buildsFromSource,
    "cargo was not found on PATH",
  ])
  for (const line of said.split("\n").filter((l) => l.includes("@save-dweb/veilid:"))) {
    console.log(`       ${line.trim()}`)
  }
  console.log(
    "  ok   without a prebuilt binding, the install says it builds from source and what it needs",
  )
}

/**
 * The install script's fallback, run for real: with cargo on PATH and the platform package
 * left out, `npm install` builds the binding from the published sources, and the package
 * loads what it built. Cargo's target dir is the workspace's (`build:native`'s), so
 * veilid-core's compiled dependencies are reused and only the binding's crate compiles
 * (a few CPU minutes; a clean target dir would take tens).
 */
export const checkSourceBuild = (options: ProgramsOptions): void => {
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), ".cache")
  const targetDir = process.env.CARGO_TARGET_DIR || join(cacheHome, "save-dweb", "cargo-target")
  console.log(`  npm install --omit=optional @save-dweb/veilid, cargo's target dir ${targetDir}`)
  const started = Date.now()
  const { dir, said } = installWithoutPrebuilt(
    options,
    "source-build",
    { CARGO_TARGET_DIR: targetDir },
    [buildsFromSource, "built veilid.linux-x64-gnu.node"],
  )
  const seconds = ((Date.now() - started) / 1000).toFixed(0)
  for (const line of said.split("\n")) {
    if (line.includes("@save-dweb/veilid:") || /^\s*(Compiling|Finished)/.test(line)) {
      console.log(`       ${line.trim()}`)
    }
  }
  if (existsSync(join(dir, "node_modules", "@save-dweb", "veilid-linux-x64-gnu"))) {
    throw new Error("--omit=optional installed the platform package anyway")
  }
  const version = execFileSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      'const { veilidVersion } = await import("@save-dweb/veilid/native"); console.log(veilidVersion())',
    ],
    { cwd: dir, encoding: "utf8", env: npmEnvironment() },
  ).trim()
  console.log(
    `  ok   built from the published sources in ${seconds} s (the whole install); it loads: veilidVersion() = ${version}`,
  )
}

export const runInstalledPrograms = (options: ProgramsOptions): void => {
  const prefix = join(options.work, "global")
  mkdirSync(prefix, { recursive: true })
  console.log(`\nnpm install -g (prefix ${prefix}): @save-dweb/cli @save-dweb/backup-server`)
  const started = Date.now()
  // Without Rust, a C toolchain or Python: those first on PATH only note they were called.
  const noTools = withoutBuildTools(options.work)
  execFileSync(
    "npm",
    [
      "install",
      "--global",
      "--prefix",
      prefix,
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      ...options.npmOptions,
      "@save-dweb/cli",
      "@save-dweb/backup-server",
    ],
    { stdio: ["ignore", "ignore", "inherit"], env: { ...npmEnvironment(), PATH: noTools.path } },
  )
  const modules = join(prefix, "lib", "node_modules")
  const native = find(modules, (path) => path.endsWith(".node"))
  console.log(
    `  installed in ${((Date.now() - started) / 1000).toFixed(0)} s; native code: ${native.map((p) => p.slice(modules.length + 1)).join(", ")}`,
  )
  const called = noTools.called()
  if (called.length > 0) throw new Error(`installing the programs ran ${called.join(", ")}`)
  const prebuilt = join("@save-dweb", "veilid-linux-x64-gnu", "veilid.linux-x64-gnu.node")
  if (!native.some((path) => path.endsWith(prebuilt))) {
    throw new Error(`the Veilid binding did not come prebuilt (${prebuilt})`)
  }
  console.log(
    `  ok   the Veilid binding came prebuilt (@save-dweb/veilid-linux-x64-gnu); none of ${BUILD_TOOLS.join(", ")} ran`,
  )
  const env = { ...npmEnvironment(), PATH: `${join(prefix, "bin")}:${process.env.PATH ?? ""}` }
  const program = (args: ReadonlyArray<string>, extra: Record<string, string> = {}) =>
    execFileSync(args[0] as string, args.slice(1), {
      env: { ...env, ...extra },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    })
  const version = program(["save-dweb", "--version"]).trim()
  console.log(`  ok   save-dweb --version: ${version}`)
  for (const bin of ["save-dweb-daemon", "save-dweb-backup-server"]) {
    if (!existsSync(join(prefix, "bin", bin))) throw new Error(`npm linked no ${bin}`)
    const help = program([bin, "--help"])
    if (!help.startsWith(`${bin} [options]`)) throw new Error(`${bin} --help printed no usage`)
    console.log(`  ok   ${bin} --help: ${help.split("\n")[0]}`)
  }
  if (options.oldestNode !== undefined) {
    const { version: oldest, path: node } = options.oldestNode
    for (const [bin, flag] of [
      ["save-dweb", "--version"],
      ["save-dweb-daemon", "--help"],
      ["save-dweb-backup-server", "--help"],
    ] as const) {
      const said = program([node, join(prefix, "bin", bin), flag])
      if (flag === "--help" && !said.startsWith(`${bin} [options]`)) {
        throw new Error(`${bin} --help on Node ${oldest} printed no usage`)
      }
    }
    console.log(`  ok   the three also answer --version/--help on Node ${oldest}`)
  }
  if (!options.testnet) return

  // The installed daemon's testnet tool and the installed binding (found under the prefix:
  // the tool only looks in a workspace, or where SAVE_DWEB_VEILID_NATIVE says).
  const [testnetBin] = find(modules, (path) =>
    path.endsWith(join("@save-dweb", "veilid-testnet", "bin", "veilid-testnet.mjs")),
  )
  const [binding] = find(modules, (path) => path.endsWith(join("@save-dweb", "veilid", "index.js")))
  if (testnetBin === undefined || binding === undefined) {
    throw new Error("the installed daemon brought no veilid-testnet or Veilid binding")
  }
  const name = `rc${process.pid}`
  const testnet = (args: ReadonlyArray<string>, stdio: "inherit" | "pipe" = "pipe") =>
    execFileSync(process.execPath, [testnetBin, ...args], {
      env: { ...env, SAVE_DWEB_VEILID_NATIVE: binding },
      encoding: "utf8",
      stdio: ["ignore", stdio, "inherit"],
    })
  const data = join(options.work, "alice")
  const script = join(options.work, "alice.sh")
  writeFileSync(
    script,
    [
      "set -euo pipefail",
      `export SAVE_DWEB_DATA_DIR=${data}`,
      `head -c 3000000 /dev/urandom > ${join(options.work, "in.bin")}`,
      "save-dweb daemon start --network testnet:alice",
      "trap 'save-dweb daemon stop' EXIT",
      'save-dweb group create "Release check" --member-name Alice',
      `save-dweb file add "Release check" ${join(options.work, "in.bin")}`,
      'save-dweb file ls "Release check"',
      `save-dweb file get "Release check" in.bin -o ${join(options.work, "out.bin")}`,
      `cmp ${join(options.work, "in.bin")} ${join(options.work, "out.bin")}`,
      'echo "  ok   3 MB added and read back identical through the installed CLI and daemon"',
      "",
    ].join("\n"),
  )
  console.log(`\nthe installed daemon on a private testnet (${name}), driven by the installed CLI`)
  console.log(`  ${testnet(["up", "--name", name]).split("\n")[0]}`)
  try {
    execFileSync(process.execPath, [testnetBin, "exec", "--attach", name, "--", "bash", script], {
      env: { ...env, SAVE_DWEB_VEILID_NATIVE: binding },
      stdio: ["ignore", "inherit", "inherit"],
    })
  } finally {
    testnet(["down", name])
    if (existsSync(join(data, "daemon.log"))) {
      console.log(`  (the daemon's log: ${join(data, "daemon.log")})`)
    }
  }
}
