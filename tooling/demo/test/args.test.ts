import { expect, it } from "vitest"
import { parseDemoArgs } from "../src/args.ts"

it("reads a file, a size or the self-check, with or without pnpm's `--`", () => {
  expect(parseDemoArgs(["--", "photo.jpg"])).toEqual({
    selfCheck: false,
    help: false,
    size: undefined,
    files: ["photo.jpg"],
  })
  expect(parseDemoArgs(["--size", "64"])).toMatchObject({ size: "64", files: [] })
  expect(parseDemoArgs(["--self-check"])).toMatchObject({ selfCheck: true })
  expect(parseDemoArgs(["-h"])).toMatchObject({ help: true })
})

it("refuses what the demo does not take, with the reason (checked before installing)", () => {
  expect(parseDemoArgs(["--layers"])).toMatch(/Unknown option '--layers'/)
  expect(parseDemoArgs(["a", "b"])).toBe("one file at most")
  expect(parseDemoArgs(["--size"])).toMatch(/--size/)
})
