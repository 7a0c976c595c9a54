// Browsers have no file paths: `files.upload` takes a `File` (a `Blob`) or a stream there.
// Node's variant of `#file-source` is `file-source.node.ts`.

export const readFileStream = (path: string): AsyncIterable<Uint8Array> => {
  throw new Error(
    `cannot read "${path}": file paths are read in Node only (pass a File or a stream)`,
  )
}
