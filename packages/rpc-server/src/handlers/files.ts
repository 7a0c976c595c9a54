// The file routes: list, upload, download (ranged, and sent as it arrives), delete, copies,
// pins.
import { Api, BadRequest, Forbidden, PayloadTooLarge, RangeNotSatisfiable } from "@save-dweb/client"
import { Effect, Option, Stream } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { toApiError } from "../error-mapping.ts"
import { parseRange, sliceStream } from "../range.ts"

import { api, errorResponse, fileInfo, type HandlerDeps, repoRef } from "./shared.ts"

export const fileRoutes = (deps: HandlerDeps) => {
  const { backend, limits } = deps
  return HttpApiBuilder.group(Api, "files", (h) =>
    h
      .handle("list", ({ params }) =>
        api(
          Effect.map(backend.files(params.group, repoRef(params.repo)), (all) => all.map(fileInfo)),
        ),
      )
      .handleRaw("upload", ({ params, request }) =>
        Effect.gen(function* () {
          const loaded = yield* api(backend.loadGroup(params.group))
          const own = Option.getOrUndefined(loaded.repo)
          if (params.repo !== "mine" && own?.key !== params.repo) {
            return yield* new Forbidden({
              message: `only this member's own repo (${own?.key ?? "none"}) is written here`,
            })
          }
          const declared = Number(request.headers["content-length"])
          const tooLarge = new PayloadTooLarge({
            message: `the upload limit is ${limits.maxUploadBytes} bytes`,
          })
          if (Number.isFinite(declared) && declared > limits.maxUploadBytes) {
            return yield* tooLarge
          }
          let received = 0
          const body = request.stream.pipe(
            Stream.mapError(
              () => new BadRequest({ message: "the request body ended before it was complete" }),
            ),
            // Counted per batch of chunks: one effect per read, not per chunk.
            Stream.mapArrayEffect((chunks) => {
              for (const chunk of chunks) received += chunk.length
              return received > limits.maxUploadBytes
                ? Effect.fail(tooLarge)
                : Effect.succeed(chunks)
            }),
          )
          const written = yield* backend
            .writeFile(params.group, params.name, body)
            .pipe(
              Effect.mapError((e) =>
                e._tag === "PayloadTooLarge" || e._tag === "BadRequest" ? e : toApiError(e),
              ),
            )
          return fileInfo(written)
        }),
      )
      .handle("download", ({ params, request }) =>
        Effect.gen(function* () {
          const read = yield* api(backend.readFile(params.group, repoRef(params.repo), params.name))
          const size = read.file.size
          const range = parseRange(request.headers.range, size)
          const common = { "accept-ranges": "bytes" }
          if (range._tag === "Unsatisfiable") {
            return errorResponse(
              new RangeNotSatisfiable({
                message: `${request.headers.range} is outside the file's ${size} bytes`,
              }),
              { ...common, "content-range": `bytes */${size}` },
            )
          }
          // A file not held here is fetched as it is sent: the answer waits for its first
          // bytes, so a fetch that cannot start is a status, not a cut body.
          // One record (64 KiB) per socket write: the HTTP server joins what one pull
          // yields with `Buffer.concat`, and a local file's decryptor yields up to 1 MiB
          // a pull; joined, a serve of 1 GiB peaked 70 MiB higher (apps/daemon README).
          const opened = (offset: number) =>
            api(read.open(offset)).pipe(
              Effect.map((bytes) => bytes.pipe(Stream.mapError(toApiError), Stream.rechunk(1))),
            )
          if (range._tag === "Whole") {
            const bytes = yield* opened(0)
            return HttpServerResponse.stream(bytes, {
              contentType: "application/octet-stream",
              contentLength: size,
              headers: common,
            })
          }
          // From the record holding the first byte, not from the file's start.
          const ranged = yield* opened(range.start)
          return HttpServerResponse.stream(sliceStream(ranged, 0, range.end - range.start), {
            status: 206,
            contentType: "application/octet-stream",
            contentLength: range.end - range.start + 1,
            headers: { ...common, "content-range": `bytes ${range.start}-${range.end}/${size}` },
          })
        }),
      )
      .handle("delete", ({ params }) =>
        Effect.gen(function* () {
          const loaded = yield* api(backend.loadGroup(params.group))
          const own = Option.getOrUndefined(loaded.repo)
          if (params.repo !== "mine" && own?.key !== params.repo) {
            return yield* new Forbidden({
              message: "only this member's own files are deleted here",
            })
          }
          yield* api(backend.deleteFile(params.group, params.name))
        }),
      )
      .handle("copies", ({ params }) =>
        api(
          Effect.map(backend.fileCopies(params.group, repoRef(params.repo), params.name), (c) => ({
            ...c,
            target: c.target ?? null,
            reached: c.reached ?? null,
            copies: c.copies.map((copy) => ({
              ...copy,
              since: copy.since ?? null,
              verifiedAt: copy.verifiedAt ?? null,
              how: copy.how ?? null,
            })),
          })),
        ),
      )
      .handle("pin", ({ params }) =>
        api(backend.pin(params.group, repoRef(params.repo), params.name)),
      )
      .handle("unpin", ({ params }) =>
        api(backend.unpin(params.group, repoRef(params.repo), params.name)),
      ),
  )
}
