// A local file as chunks, for `files.upload(group, name, "/path")`: Node's variant of
// `#file-source` (package.json `imports`); browsers get `file-source.browser.ts`.
import { createReadStream } from "node:fs"

export const readFileStream = (path: string): AsyncIterable<Uint8Array> =>
  createReadStream(path) as AsyncIterable<Uint8Array>
