// Where things live, and what a process inside a testnet namespace is told.
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Data } from "effect"

/** Every namespace this tool makes is called `sdwtn-<id>`. */
export const NAMESPACE_PREFIX = "sdwtn-"

/** Environment of a process running inside a testnet namespace. */
export const ENV_NAMESPACE = "SAVE_DWEB_TESTNET"
/** Run directory: state.json, zones/, leases/, testnet.json (for `up`). */
export const ENV_RUN_DIR = "SAVE_DWEB_TESTNET_DIR"
/** Node storage goes below this directory. */
export const ENV_DATA_DIR = "SAVE_DWEB_TESTNET_DATA"
/** Set by `exec --attach`: the JSON description of the running testnet. */
export const ENV_INFO = "SAVE_DWEB_TESTNET_INFO"
/** Path of `@save-dweb/veilid/native`'s entry file, if not found in the workspace. */
export const ENV_NATIVE = "SAVE_DWEB_VEILID_NATIVE"
/** Overrides the state root (default /run/save-dweb-testnet). */
export const ENV_STATE_ROOT = "SAVE_DWEB_TESTNET_STATE_ROOT"

export const stateRoot = (): string => process.env[ENV_STATE_ROOT] ?? "/run/save-dweb-testnet"
export const runDirOf = (ns: string): string => join(stateRoot(), ns)
export const defaultDataDirOf = (ns: string): string => join(tmpdir(), "save-dweb-testnet", ns)
export const netnsEtcDirOf = (ns: string): string => join("/etc/netns", ns)

export const zonesDir = (runDir: string): string => join(runDir, "zones")
export const leasesDir = (runDir: string): string => join(runDir, "leases")
export const infoFile = (runDir: string): string => join(runDir, "testnet.json")

export class NotInTestnet extends Data.TaggedError("NotInTestnet")<{ readonly message: string }> {}

export interface InsideEnvironment {
  readonly namespace: string
  readonly runDir: string
  readonly dataDir: string
}

/** The namespace this process runs in, as `veilid-testnet exec` described it. */
export const insideEnvironment = (): InsideEnvironment | NotInTestnet => {
  const namespace = process.env[ENV_NAMESPACE]
  const runDir = process.env[ENV_RUN_DIR]
  const dataDir = process.env[ENV_DATA_DIR]
  if (!namespace || !runDir || !dataDir) {
    return new NotInTestnet({
      message:
        "not inside a testnet namespace: run this under `veilid-testnet exec -- <command>` " +
        `(${ENV_NAMESPACE}, ${ENV_RUN_DIR} and ${ENV_DATA_DIR} are unset)`,
    })
  }
  return { namespace, runDir, dataDir }
}
