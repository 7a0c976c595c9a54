// Debian's chromium for tests that drive a real browser through playwright-core (the web
// page's tests, the release check's browser step). Test code only.
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"

export const chromiumPath = "/usr/bin/chromium"

/** Debian's chromium, installed with apt when missing (needs root and Debian's mirror). */
export const ensureChromium = (): string => {
  if (existsSync(chromiumPath)) return chromiumPath
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  try {
    execFileSync("apt-get", ["update"], { stdio: "inherit", env })
    execFileSync("apt-get", ["install", "-y", "--no-install-recommends", "chromium"], {
      stdio: "inherit",
      env,
    })
  } catch (cause) {
    // Inside a testnet's network namespace Debian's mirror is out of reach; `npm test`
    // installs chromium before any suite starts (tooling/toolchain/run.sh).
    throw new Error(
      `${chromiumPath} is missing and apt-get could not install it (inside a testnet's network namespace Debian's mirror cannot be reached): run \`apt-get install chromium\` first, or \`npm test\`, which does`,
      { cause },
    )
  }
  return chromiumPath
}
