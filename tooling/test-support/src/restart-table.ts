// The restart benches' one table: restart-to-ready times after a graceful stop and after
// `kill -9`, median, max and every round, in seconds (Markdown, for the READMEs).

export type StopSignal = "SIGTERM" | "SIGKILL"

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/** The table's lines for `times` (milliseconds per round, per way of stopping). */
export const restartTable = (
  times: Readonly<Record<StopSignal, ReadonlyArray<number>>>,
): ReadonlyArray<string> => [
  "| stopped with       | median | max    | all (s) |",
  "| ------------------ | ------ | ------ | ------- |",
  ...(
    [
      ["SIGTERM", "SIGTERM (graceful)"],
      ["SIGKILL", "kill -9"],
    ] as const
  ).map(([signal, label]) => {
    const xs = times[signal]
    return `| ${label.padEnd(18)} | ${seconds(median(xs)).padEnd(6)} | ${seconds(Math.max(...xs)).padEnd(6)} | ${xs.map((x) => (x / 1000).toFixed(1)).join(" ")} |`
  }),
]
