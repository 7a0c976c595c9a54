// `/docs`: a plain HTML page made from the OpenAPI document at start (no scripts, no CDN).
// Both it and `/openapi.json` are served behind the bearer token, like the API.
import { openApiDocument } from "@save-dweb/client"

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;",
  )

interface Operation {
  readonly operationId?: string
  readonly description?: string
  readonly summary?: string
  readonly security?: ReadonlyArray<unknown>
  readonly requestBody?: { readonly content?: Record<string, unknown> }
  readonly responses?: Record<string, { readonly description?: string }>
}

export const docsPage = (): string => {
  const spec = openApiDocument() as unknown as {
    readonly info: { readonly title: string; readonly description?: string }
    readonly paths: Record<string, Record<string, Operation>>
  }
  const rows: Array<string> = []
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const statuses = Object.keys(op.responses ?? {})
      const ok = statuses.filter((s) => s.startsWith("2"))
      const errors = statuses.filter((s) => !s.startsWith("2"))
      const body = Object.keys(op.requestBody?.content ?? {}).join(", ")
      const auth = op.security === undefined || op.security.length > 0 ? "token" : "none"
      rows.push(
        `<tr><td><code>${escapeHtml(method.toUpperCase())}</code></td><td><code>${escapeHtml(path)}</code></td>` +
          `<td>${escapeHtml(op.operationId ?? "")}</td><td>${escapeHtml(op.description ?? op.summary ?? "")}</td>` +
          `<td>${escapeHtml(body)}</td><td>${escapeHtml(ok.join(", "))}</td><td>${escapeHtml(errors.join(", "))}</td>` +
          `<td>${auth}</td></tr>`,
      )
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(spec.info.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:90em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}code{white-space:nowrap}</style>
</head><body>
<h1>${escapeHtml(spec.info.title)}</h1>
<p>${escapeHtml(spec.info.description ?? "")}</p>
<p>The full description, with every schema, is <code>GET /openapi.json</code> (with the same token; <code>save-dweb api openapi</code> saves it).</p>
<table><thead><tr><th>method</th><th>path</th><th>operation</th><th>what it does</th><th>body</th><th>success</th><th>errors</th><th>auth</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody></table>
</body></html>
`
}
