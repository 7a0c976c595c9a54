// A whole body (bytes or a `Blob`) sent with the runtime's `XMLHttpRequest`, for an upload
// whose progress is asked for in a browser: `fetch` says nothing until a request body is
// sent, and Chromium streams request bodies only over HTTP/2, so over the daemon's
// HTTP/1.1 only XHR's `upload.onprogress` counts the bytes as they go. Node has no XHR.
import { Cause, Effect, Queue, Stream } from "effect"

export type XhrEvent =
  /** Bytes of the body sent so far. */
  | { readonly _tag: "Sent"; readonly bytes: number }
  /** The server's answer; the stream ends after it. */
  | { readonly _tag: "Answered"; readonly status: number; readonly text: string }

/** The part of `XMLHttpRequest` used here: the package builds without the DOM's types. */
interface Xhr {
  readonly upload: { onprogress: ((event: { readonly loaded: number }) => void) | null }
  readonly status: number
  readonly responseText: string
  readonly readyState: number
  onload: (() => void) | null
  onerror: (() => void) | null
  ontimeout: (() => void) | null
  onabort: (() => void) | null
  open(method: string, url: string): void
  setRequestHeader(name: string, value: string): void
  send(body: Blob): void
  abort(): void
}

const xhrConstructor = (): (new () => Xhr) | undefined =>
  (globalThis as { readonly XMLHttpRequest?: new () => Xhr }).XMLHttpRequest

/** Whether the runtime has `XMLHttpRequest` (browsers and their workers do; Node does not). */
export const hasXhr = (): boolean => typeof xhrConstructor() === "function"

/**
 * A `PUT` of `body` to `url`: the bytes sent as the browser reports them, then the answer.
 * Fails with a `TypeError` (as `fetch` does) when no answer comes; ending the stream
 * early aborts the request.
 */
export const xhrPut = (
  url: string,
  headers: Readonly<Record<string, string>>,
  body: Uint8Array | Blob,
): Stream.Stream<XhrEvent, TypeError> =>
  Stream.callback<XhrEvent, TypeError>((queue) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const XhrClass = xhrConstructor()
        if (XhrClass === undefined) throw new TypeError("this runtime has no XMLHttpRequest")
        const xhr = new XhrClass()
        const failed = (what: string) => () =>
          Queue.failCauseUnsafe(queue, Cause.fail(new TypeError(`the upload ${what}`)))
        xhr.open("PUT", url)
        for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value)
        xhr.upload.onprogress = (event) => {
          Queue.offerUnsafe(queue, { _tag: "Sent", bytes: event.loaded })
        }
        xhr.onload = () => {
          Queue.offerUnsafe(queue, { _tag: "Answered", status: xhr.status, text: xhr.responseText })
          Queue.endUnsafe(queue)
        }
        xhr.onerror = failed("found no server or its connection broke")
        xhr.ontimeout = failed("timed out")
        xhr.onabort = failed("was aborted")
        xhr.send(body instanceof Blob ? body : new Blob([body as Uint8Array<ArrayBuffer>]))
        return xhr
      }),
      (xhr) =>
        Effect.sync(() => {
          // 4: DONE. An upload left unfinished (interrupted) is cut.
          if (xhr.readyState !== 4) xhr.abort()
        }),
    ),
  )
