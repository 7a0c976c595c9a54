// Who owns a namespace, an address lease or a zone: a pid together with the
// process start time from /proc, so a recycled pid is not taken for its
// earlier owner.
import { readFileSync } from "node:fs"

export interface ProcessIdentity {
  readonly pid: number
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); "" if unknown. */
  readonly startTime: string
}

export const processStartTime = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may hold spaces and parentheses: skip past its last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return fields[19]
  } catch {
    return undefined
  }
}

export const processIdentity = (pid: number = process.pid): ProcessIdentity => ({
  pid,
  startTime: processStartTime(pid) ?? "",
})

export const isAlive = (owner: ProcessIdentity): boolean => {
  const startTime = processStartTime(owner.pid)
  if (startTime === undefined) return false
  // A zombie has exited and only waits to be reaped.
  try {
    const stat = readFileSync(`/proc/${owner.pid}/stat`, "utf8")
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false
  } catch {
    return false
  }
  return owner.startTime === "" || owner.startTime === startTime
}

/** Pids whose parent is `pid` (from /proc). */
export const childPids = (pid: number): Array<number> => {
  try {
    const raw = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim()
    return raw === "" ? [] : raw.split(" ").map(Number)
  } catch {
    return []
  }
}

export const descendantPids = (pid: number): Array<number> => {
  const out: Array<number> = []
  const queue = [pid]
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of childPids(next)) {
      out.push(child)
      queue.push(child)
    }
  }
  return out
}
