#!/usr/bin/env node
// The built daemon (`pnpm build` or `turbo run build` first).
//
// V8 grows its young generation up to 128 MiB under a file transfer's short-lived objects
// and keeps it; capped at 1 MiB semi-spaces the daemon peaks ~100 MiB lower at the same
// speed (README, Memory). The cap is a start-up setting, so without it this process
// replaces itself (same pid, same arguments, descriptors and environment) with one that
// has it. A cap given in the Node options is kept as given.
//
// Rust errors in the native addons (Iroh's, Veilid's) capture a backtrace each when
// RUST_BACKTRACE is set, as on many developers' machines: Iroh's DNS resolver alone kept
// ~35 MiB of symbol caches that way. RUST_LIB_BACKTRACE=0 stops that for error values
// only; a panic still prints its backtrace as RUST_BACKTRACE says. A value given is kept.
process.env.RUST_LIB_BACKTRACE ??= "0"
const semiSpace = "--max-semi-space-size"
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)]
if (!given.some((arg) => arg.startsWith(semiSpace)) && typeof process.execve === "function") {
  process.execve(process.execPath, [
    process.execPath,
    `${semiSpace}=1`,
    ...process.execArgv,
    ...process.argv.slice(1),
  ])
}
await import("../dist/main.js")
