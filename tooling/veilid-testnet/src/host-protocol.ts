// Messages between startTestnet and its host process (Node IPC, JSON).

export type HostCommand =
  | {
      readonly type: "start"
      readonly nodes: ReadonlyArray<{ readonly name: string; readonly config: string }>
    }
  | { readonly type: "stop" }
  /** Runs a veilid debug command (e.g. "nodeinfo") on one node; answered by a "debug" event. */
  | { readonly type: "debug"; readonly id: number; readonly name: string; readonly command: string }

export type HostEvent =
  /** The binding loaded; its default config is the base of every node config. */
  | { readonly type: "hello"; readonly defaultConfig: string }
  | { readonly type: "started"; readonly name: string }
  | { readonly type: "failed"; readonly name: string; readonly message: string }
  | {
      readonly type: "attachment"
      readonly name: string
      readonly state: string
      readonly publicInternetReady: boolean
      readonly livePeers: number
    }
  | { readonly type: "debug"; readonly id: number; readonly output: string }
  | { readonly type: "stopped" }
