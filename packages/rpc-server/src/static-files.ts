// A directory of built web files (the daemon's UI) served at `/`, read into memory once at
// start: the UI is a few hundred kilobytes, and nothing outside the directory can be named.
import { readdir, readFile } from "node:fs/promises"
import { extname, join, relative, sep } from "node:path"

export interface StaticFile {
  readonly bytes: Uint8Array
  readonly contentType: string
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
}

/** Every file under `dir` by its URL path (`/index.html`, `/assets/x.js`). */
export const loadStaticFiles = async (dir: string): Promise<ReadonlyMap<string, StaticFile>> => {
  const files = new Map<string, StaticFile>()
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  for (const entry of entries) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    const url = `/${relative(dir, path).split(sep).join("/")}`
    files.set(url, {
      bytes: await readFile(path),
      contentType: TYPES[extname(entry.name).toLowerCase()] ?? "application/octet-stream",
    })
  }
  return files
}

/**
 * What the page may load: its own scripts, styles and images (and images it makes itself,
 * QR codes), requests to this origin only; no inline script, no framing, no plugins.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ")

export const pageHeaders = (path: string): Record<string, string> => ({
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  // Vite names assets by their hash; the page itself must be asked for again.
  "cache-control": path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
})
