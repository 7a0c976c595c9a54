// The app picks a file's icon and preview by its `mimeType` (image/, video/, audio/) and
// otherwise takes it for `application/octet-stream`. It uploads every file as
// `application/octet-stream`, so the name's extension is all there is to go by: the
// common kinds of what the app records and shares, nothing guessed beyond them.
const byExtension: Readonly<Record<string, string>> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  heic: "image/heic",
  heif: "image/heif",
  avif: "image/avif",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  dng: "image/x-adobe-dng",
  mp4: "video/mp4",
  m4v: "video/mp4",
  mov: "video/quicktime",
  "3gp": "video/3gpp",
  webm: "video/webm",
  mkv: "video/x-matroska",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  aac: "audio/aac",
  ogg: "audio/ogg",
  opus: "audio/ogg",
  wav: "audio/wav",
  flac: "audio/flac",
  amr: "audio/amr",
  pdf: "application/pdf",
  txt: "text/plain",
  json: "application/json",
  zip: "application/zip",
}

/** The media type of a file by its name's extension (any case), if it is a known one. */
export const mediaTypeOf = (name: string): string | undefined => {
  const dot = name.lastIndexOf(".")
  if (dot <= 0) return undefined
  const extension = name.slice(dot + 1).toLowerCase()
  return Object.hasOwn(byExtension, extension) ? byExtension[extension] : undefined
}
