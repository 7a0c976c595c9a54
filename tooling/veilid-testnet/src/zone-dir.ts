// Every testnet in a namespace writes its zone to <run dir>/zones/<id>.json;
// the namespace's one DNS server answers from all of them. A zone whose owner died
// (a process attached to an `up` testnet and killed with -9) is skipped and removed:
// its names would otherwise keep answering with addresses no node listens on, and a
// restarted node of the same name would bind them too.
import { readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { isAlive } from "./process-info.ts"
import { mergeZones, type Zone, zoneFromJson, zoneOwnerFromJson } from "./zone.ts"

export const readZoneDir = (dir: string): Zone => {
  const zones: Array<Zone> = []
  let files: Array<string> = []
  try {
    files = readdirSync(dir).filter((file) => file.endsWith(".json"))
  } catch {}
  for (const file of files) {
    try {
      const json = readFileSync(join(dir, file), "utf8")
      const owner = zoneOwnerFromJson(json)
      if (owner !== undefined && !isAlive(owner)) {
        rmSync(join(dir, file), { force: true })
        continue
      }
      zones.push(zoneFromJson(json))
    } catch {
      // A zone being replaced or removed right now: the next query sees it settled.
    }
  }
  return mergeZones(zones)
}
