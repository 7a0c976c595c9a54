/** How the CLI prints: tables and sentences for people, one JSON document for scripts. */
export interface Output {
  readonly json: boolean
  /** A progress line is drawn (stderr is a terminal and --json is off). */
  readonly interactive: boolean
  readonly out: (text: string) => void
  readonly err: (text: string) => void
}

export const makeOutput = (json: boolean): Output => ({
  json,
  interactive: !json && process.stderr.isTTY === true,
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
})

/** Prints `value` as JSON, or `human(value)` for people. */
export const emit = <A>(output: Output, value: A, human: (value: A) => string) => {
  if (output.json) output.out(JSON.stringify(value, null, 2))
  else {
    const text = human(value)
    if (text !== "") output.out(text)
  }
}

/** A plain aligned table; empty cells are `-`. */
export const table = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string | number | null | undefined>>,
): string => {
  const cells = rows.map((r) =>
    r.map((c) => (c === null || c === undefined || c === "" ? "-" : String(c))),
  )
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)))
  const line = (r: ReadonlyArray<string>) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd()
  return [line(headers), ...cells.map(line)].join("\n")
}

/** A file's place here: `local`, `local, pinned` (kept by this member's pin) or `remote-only`. */
export const fileStatus = (file: {
  readonly status: "local" | "remote-only"
  readonly pinned?: boolean
}): string => (file.pinned === true ? `${file.status}, pinned` : file.status)

const units = ["B", "KiB", "MiB", "GiB", "TiB"]

export const formatBytes = (n: number): string => {
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}

/**
 * A progress bar on stderr, redrawn at most every 100 ms; silent unless interactive.
 * `done()` clears it so the command's result prints on a clean line.
 */
export const progressBar = (output: Output, label: string, now: () => number = Date.now) => {
  const started = now()
  let last = 0
  let drawn = false
  const draw = (doneBytes: number, total: number | undefined, force = false) => {
    if (!output.interactive) return
    const t = now()
    if (!force && t - last < 100) return
    last = t
    const seconds = Math.max((t - started) / 1000, 0.001)
    const rate = `${formatBytes(doneBytes / seconds)}/s`
    const width = 30
    let text: string
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, doneBytes / total)
      const filled = Math.round(frac * width)
      text = `${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(doneBytes)}/${formatBytes(total)} ${rate}`
    } else text = `${label} ${formatBytes(doneBytes)} ${rate}`
    process.stderr.write(`\r\x1b[2K${text}`)
    drawn = true
  }
  return {
    update: (doneBytes: number, total?: number) => draw(doneBytes, total),
    done: () => {
      if (drawn) process.stderr.write("\r\x1b[2K")
    },
  }
}
