import { describe, expect, it } from "vitest"
import { ExitCode, exitCodeOfApiError, hintOfApiError } from "../src/exit-codes.ts"
import { emit, fileStatus, formatBytes, makeOutput, type Output, table } from "../src/output.ts"

const capture = (json: boolean) => {
  const lines: Array<string> = []
  const out: Output = { ...makeOutput(json), interactive: false, out: (t) => lines.push(t) }
  return { out, lines }
}

describe("CLI output", () => {
  it("aligns tables and shows empty cells as -", () => {
    expect(
      table(
        ["NAME", "SIZE"],
        [
          ["a", 1],
          ["longer", null],
        ],
      ),
    ).toBe("NAME    SIZE\na       1\nlonger  -")
  })

  it("says a file is local, local and pinned, or remote-only (an older daemon: no pinned)", () => {
    expect(fileStatus({ status: "local", pinned: true })).toBe("local, pinned")
    expect(fileStatus({ status: "local", pinned: false })).toBe("local")
    expect(fileStatus({ status: "local" })).toBe("local")
    expect(fileStatus({ status: "remote-only", pinned: false })).toBe("remote-only")
  })

  it("formats byte counts in binary units", () => {
    expect(formatBytes(512)).toBe("512 B")
    expect(formatBytes(1536)).toBe("1.50 KiB")
    expect(formatBytes(3 * 1024 ** 3)).toBe("3.00 GiB")
    expect(formatBytes(200 * 1024 ** 2)).toBe("200.0 MiB")
  })

  it("prints JSON for scripts and the human text otherwise", () => {
    const j = capture(true)
    emit(j.out, { a: 1 }, () => "human")
    expect(JSON.parse(j.lines.join("\n"))).toEqual({ a: 1 })
    const h = capture(false)
    emit(h.out, { a: 1 }, (v) => `a is ${v.a}`)
    expect(h.lines).toEqual(["a is 1"])
  })
})

describe("exit codes", () => {
  it("tell the kinds of failure apart", () => {
    expect(exitCodeOfApiError("UnknownGroup")).toBe(ExitCode.NotFound)
    expect(exitCodeOfApiError("FileNotFound")).toBe(ExitCode.NotFound)
    expect(exitCodeOfApiError("InvalidLink")).toBe(ExitCode.Refused)
    expect(exitCodeOfApiError("PayloadTooLarge")).toBe(ExitCode.Refused)
    expect(exitCodeOfApiError("PeerUnreachable")).toBe(ExitCode.Network)
    expect(exitCodeOfApiError("Conflict")).toBe(ExitCode.Conflict)
    expect(exitCodeOfApiError("Unauthorized")).toBe(ExitCode.Auth)
    expect(exitCodeOfApiError("Internal")).toBe(ExitCode.Failure)
  })

  it("come with a hint on what to do for the common mistakes", () => {
    expect(hintOfApiError("UnknownGroup")).toMatch(/group list/)
    expect(hintOfApiError("Unauthorized")).toMatch(/--token/)
    expect(hintOfApiError("Internal")).toBeUndefined()
  })
})
