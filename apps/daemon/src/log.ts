import { Logger } from "effect"
import type { LogLevel } from "./config.ts"

/**
 * One JSON object per line on stderr: `{"time","level","message",...annotations}`, with
 * `cause` when the entry carries one. stdout stays free for what a caller parses.
 */
export const jsonLinesLogger = (write: (line: string) => void = (l) => process.stderr.write(l)) =>
  Logger.map(Logger.formatStructured, (entry) => {
    const line: Record<string, unknown> = {
      time: entry.timestamp,
      level: entry.level.toLowerCase(),
      message: entry.message,
      ...entry.annotations,
    }
    if (entry.cause !== undefined) line.cause = entry.cause
    write(`${JSON.stringify(line)}\n`)
  })

const levels = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" } as const

/** The daemon's log level as Effect's. */
export const effectLogLevel = (level: LogLevel) => levels[level]
