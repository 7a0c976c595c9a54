// docs/threat-model.md names, for each claim, the test that shows it: `path` › "test name"
// (a path to a test file or a directory of tests, then the test's name). Each reference
// must name a test that exists, so that renaming or deleting a test cannot leave a claim
// standing without its proof.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const document = readFileSync(join(root, "docs", "threat-model.md"), "utf8")

interface Reference {
  readonly path: string
  readonly name: string
}

/**
 * Every `path` › "name" in the text, where a reference may continue a previous one with
 * only › "name" (same path). Line breaks inside a name are one space.
 */
export const referencesIn = (text: string): ReadonlyArray<Reference> => {
  const flat = text.replace(/\s*\n\s*/g, " ")
  const found: Array<Reference> = []
  let last: string | undefined
  for (const match of flat.matchAll(/(?:`([^`]+)`\s*)?›\s*"([^"]+)"/g)) {
    const path = match[1] ?? last
    if (path === undefined) throw new Error(`a reference with no file before it: ${match[0]}`)
    last = path
    found.push({ path, name: match[2] as string })
  }
  return found
}

const testFilesUnder = (path: string): ReadonlyArray<string> =>
  statSync(path).isDirectory()
    ? readdirSync(path).flatMap((entry) =>
        entry === "node_modules" ? [] : testFilesUnder(join(path, entry)),
      )
    : [path]

/** The test's source text, as its `it`/`test` call would have it (quotes and escapes aside). */
const contains = (source: string, name: string): boolean =>
  source.replace(/\s*\n\s*/g, " ").includes(name.replace(/\s+/g, " "))

describe("docs/threat-model.md", () => {
  const references = referencesIn(document)

  it("points at tests, at least one per party", () => {
    expect(references.length).toBeGreaterThanOrEqual(15)
  })

  it.each(references.map((r) => [`${r.path} › ${r.name}`, r] as const))(
    "%s exists",
    (_, { path, name }) => {
      const full = join(root, path)
      expect(existsSync(full), `${path} does not exist`).toBe(true)
      const sources = testFilesUnder(full).map((file) => readFileSync(file, "utf8"))
      expect(
        sources.some((source) => contains(source, name)),
        `no test named "${name}" in ${path}`,
      ).toBe(true)
    },
  )
})

describe("referencesIn", () => {
  it("reads a path, continued references and names broken across lines", () => {
    const text = 'see `a/b.test.ts` › "one\n  two" and › "three"; `c/` › "four"'
    expect(referencesIn(text)).toEqual([
      { path: "a/b.test.ts", name: "one two" },
      { path: "a/b.test.ts", name: "three" },
      { path: "c/", name: "four" },
    ])
  })

  it("refuses a continued reference with no path before it", () => {
    expect(() => referencesIn('› "orphan"')).toThrow(/no file before it/)
  })
})
