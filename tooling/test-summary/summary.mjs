// Sums the vitest JSON reports of every workspace package into the one line
// CI reads: `N passed, N failed` (`, N skipped` when any). A package that has
// a test script but left no report (it crashed, or its build failed) counts as
// one failure, so a broken package can never look green; so does every test
// file under a package's test/ that no report mentions (a config that leaves a
// file out must not pass silently).
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"

const root = new URL("../..", import.meta.url).pathname
let passed = 0
let failed = 0
let skipped = 0

for (const group of ["packages", "apps", "tooling"]) {
  const dir = join(root, group)
  if (!existsSync(dir)) continue
  for (const name of readdirSync(dir).sort()) {
    const manifest = join(dir, name, "package.json")
    if (!existsSync(manifest)) continue
    const pkg = JSON.parse(readFileSync(manifest, "utf8"))
    if (!pkg.scripts?.test) continue
    const reportsDir = join(dir, name, "test-results")
    const reports = existsSync(reportsDir)
      ? readdirSync(reportsDir).filter((file) => file.endsWith(".json"))
      : []
    if (reports.length === 0) {
      console.log(`${pkg.name}: no test report (the test task did not finish)`)
      failed += 1
      continue
    }
    const ran = new Set()
    for (const file of reports) {
      const report = JSON.parse(readFileSync(join(reportsDir, file), "utf8"))
      for (const result of report.testResults ?? []) ran.add(result.name)
      const p = report.numPassedTests ?? 0
      const f = report.numFailedTests ?? 0
      const s = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
      // A file that failed with no failed test in it (it did not load, a hook such as
      // beforeAll failed and its tests were skipped, its worker died) counts as a
      // failure, and its message is printed: it is the only trace of the cause.
      const broken = (report.testResults ?? []).filter(
        (r) =>
          r.status === "failed" && !(r.assertionResults ?? []).some((a) => a.status === "failed"),
      )
      const brokenFiles = broken.length
      for (const r of broken)
        console.log(
          `${pkg.name}: ${relative(root, r.name)} failed outside its tests: ${firstLines(r.message)}`,
        )
      passed += p
      failed += f + brokenFiles
      skipped += s
      console.log(
        `${pkg.name} (${file}): ${p} passed, ${f + brokenFiles} failed${s ? `, ${s} skipped` : ""}`,
      )
    }
    for (const testFile of testFiles(join(dir, name, "test"))) {
      if (ran.has(testFile)) continue
      console.log(`${pkg.name}: ${relative(root, testFile)} was not run by any test config`)
      failed += 1
    }
  }
}

function firstLines(message) {
  const text = String(message ?? "no message").trim()
  const lines = text.split("\n").slice(0, 12)
  return lines.join("\n    ") + (text.split("\n").length > 12 ? "\n    ..." : "")
}

function testFiles(dir) {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".test.ts"))
    .map((entry) => join(entry.parentPath, entry.name))
}

console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`)
process.exit(failed > 0 ? 1 : 0)
