// Every testnet in a namespace writes its zone to <run dir>/zones/<id>.json;
// the namespace's one DNS server answers from all of them.
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { mergeZones, type Zone, zoneFromJson } from "./zone.ts"

export const readZoneDir = (dir: string): Zone => {
  const zones: Array<Zone> = []
  let files: Array<string> = []
  try {
    files = readdirSync(dir).filter((file) => file.endsWith(".json"))
  } catch {}
  for (const file of files) {
    try {
      zones.push(zoneFromJson(readFileSync(join(dir, file), "utf8")))
    } catch {
      // A zone being replaced or removed right now: the next query sees it settled.
    }
  }
  return mergeZones(zones)
}
