// Copies the binding that build:native left in this package's directory into the
// platform package npm/<platform>/ (its prepack), so that its tarball holds the binary.
//
//   node scripts/stage-prebuilt.mjs linux-x64-gnu
import { copyFileSync, existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const platform = process.argv[2]
if (platform === undefined) {
  console.error("usage: stage-prebuilt.mjs PLATFORM (e.g. linux-x64-gnu)")
  process.exit(2)
}
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const file = `veilid.${platform}.node`
const built = join(packageDir, file)
if (!existsSync(built)) {
  console.error(
    `@save-dweb/veilid-${platform}: ${built} is missing. Build it first on a ${platform} ` +
      "machine: `pnpm exec turbo run build:native --filter=@save-dweb/veilid`.",
  )
  process.exit(1)
}
copyFileSync(built, join(packageDir, "npm", platform, file))
console.log(`@save-dweb/veilid-${platform}: staged ${file}`)
