import { Logger } from "effect"
import type { LogLevel } from "./config.ts"

/**
 * One JSON object per line on stderr: `{"time","level","message",...annotations}`, and
 * `cause` when the entry carries one. stdout carries the descriptor link only.
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

export const effectLogLevel = (level: LogLevel) => levels[level]
