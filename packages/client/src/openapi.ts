// The OpenAPI document of the API, made from the HttpApi description.
import { OpenApi } from "effect/http-api"
import { Api } from "./api.ts"

type Document = ReturnType<typeof OpenApi.fromApi>

/**
 * The OpenAPI document of the API (what the server's `/openapi.json` serves): HttpApi's,
 * plus the download's `206` (a `Range` answer; HttpApi describes one streaming success only).
 */
export const openApiDocument = (): Document => {
  const doc = OpenApi.fromApi(Api) as unknown as {
    paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>
  }
  const download = doc.paths["/v1/groups/{group}/repos/{repo}/files/{name}"]?.get
  if (download?.responses !== undefined) {
    download.responses["206"] = {
      description: "The bytes of the `Range` asked for, with `Content-Range: bytes a-b/size`.",
      content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
    }
  }
  return doc as unknown as Document
}
