// The stand-in's types, for check.ts (the .mjs also runs untyped on Node 22.0.0).
export interface StandInDaemon {
  readonly url: string
  /** Uploaded files by name. */
  readonly stored: Map<string, Buffer>
  readonly close: () => Promise<void>
}

export declare const startStandInDaemon: (options: {
  readonly token: string
  readonly groups: ReadonlyArray<unknown>
  readonly pages?: Record<string, { readonly type: string; readonly body: string }>
}) => Promise<StandInDaemon>
