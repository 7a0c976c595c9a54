// Settings for a long-running process that moves files (the daemon, the backup server),
// measured in apps/daemon's README (Memory): without them a 1 GiB fetch and serve peaked
// at 500–523 MiB over the private path, with them at ~230 MiB, at the same speed.
import { setFlagsFromString } from "node:v8"

const SEMI_SPACE = "--max-semi-space-size"

/**
 * Call first, before anything is opened: replaces this process (same pid, arguments,
 * descriptors and environment, through `process.execve`) with one whose V8 young
 * generation is capped at 1 MiB semi-spaces, a start-up setting (V8 of Node 24 grows it
 * to 128 MiB under a transfer and keeps it). Returns when the Node options already name a
 * semi-space size (kept as given) or Node has no `execve` (before 22.15: runs uncapped).
 *
 * It also sets `RUST_LIB_BACKTRACE=0` unless given: with `RUST_BACKTRACE` set, every Rust
 * error value in the native addons captured a backtrace (Iroh's DNS resolver kept tens of
 * MiB of symbol caches); a panic still prints its backtrace as `RUST_BACKTRACE` says.
 */
export const reexecForTransfers = (): void => {
  process.env.RUST_LIB_BACKTRACE ??= "0"
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)]
  if (given.some((arg) => arg.startsWith(SEMI_SPACE)) || typeof process.execve !== "function") {
    return
  }
  process.execve(process.execPath, [
    process.execPath,
    `${SEMI_SPACE}=1`,
    ...process.execArgv,
    ...process.argv.slice(1),
  ])
}

/**
 * The settings V8 takes as it runs:
 * - `--external-memory-accounted-in-global-limit` (V8 of Node 24 and later): the off-heap
 *   Buffers a transfer goes through no longer start a full mark-compact every 64 MB;
 *   young-generation collections reclaim them (uploads ~1.2x, downloads ~1.4x faster).
 * - `--heap-growing-percent=50`: the old generation grows by 1.5x between full
 *   collections instead of up to 4x when allocation is fast (a tunnel fetch left ~100 MiB
 *   of heap pages behind); 1.2x cost a third of the upload speed.
 */
export const tuneV8ForTransfers = (): void => {
  if (Number(process.versions.node.split(".")[0]) >= 24) {
    setFlagsFromString("--external-memory-accounted-in-global-limit")
  }
  setFlagsFromString("--heap-growing-percent=50")
}
