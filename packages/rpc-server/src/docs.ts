// `/docs`: Effect's Scalar page for the API (`HttpApiScalar`, its bundle embedded: nothing
// from a CDN), behind the same sign-in as the API and the web page. A request gets it with
// the bearer token (the CLI's `api docs`) or with a one-time sign-in code in the query
// (the web page's "API reference" link: the code is spent on use, and the page drops it
// from its URL); test requests from the page carry the token the web page keeps in the
// tab's sessionStorage. The page's inline scripts are allowed by their hashes only.
import { createHash } from "node:crypto"
import { Api } from "@save-dweb/client"
import { Effect } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiScalar } from "effect/http-api"
import type { SignInCodes } from "./sign-in.ts"
import { tokensEqual } from "./token.ts"

/** Where the web page keeps the token (`@save-dweb/web`'s sign-in). */
const TOKEN_KEY = "save-dweb.token"

// A function expression Scalar calls instead of `fetch`; run once, it first takes the
// sign-in code out of the address bar.
const customFetch = `(() => {
  if (location.search !== "") history.replaceState(null, "", location.pathname)
  return (input, init) => {
    const headers = new Headers(init && init.headers)
    const token = sessionStorage.getItem(${JSON.stringify(TOKEN_KEY)})
    if (token !== null && !headers.has("authorization")) headers.set("authorization", "Bearer " + token)
    return fetch(input, { ...init, headers })
  }
})()`

export const docsLayer = HttpApiScalar.layer(Api, {
  path: "/docs",
  scalar: {
    // Scalar's default fonts come from its CDN.
    withDefaultFonts: false,
    hideDarkModeToggle: true,
    authentication: { preferredSecurityScheme: "bearer" },
    customFetch,
  },
})

const scriptHashes = (html: string): ReadonlyArray<string> =>
  [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    (m) =>
      `'sha256-${createHash("sha256")
        .update(m[1] ?? "")
        .digest("base64")}'`,
  )

/** The page's policy: its own inline scripts by hash; Scalar styles itself inline. */
const docsPolicy = (hashes: ReadonlyArray<string>) =>
  [
    "default-src 'none'",
    `script-src ${hashes.join(" ")}`,
    "style-src 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ")

/**
 * Lets `/docs` through with the token or an unspent sign-in code (else the API's 401),
 * and gives the page its Content-Security-Policy.
 */
export const docsGate = (
  token: string,
  codes: SignInCodes,
  refuse: () => HttpServerResponse.HttpServerResponse,
) => {
  const policies = new WeakMap<Uint8Array, string>()
  const policyOf = (body: Uint8Array) => {
    let policy = policies.get(body)
    if (policy === undefined) {
      policy = docsPolicy(scriptHashes(new TextDecoder().decode(body)))
      policies.set(body, policy)
    }
    return policy
  }
  return HttpRouter.middleware(
    (httpEffect) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const url = new URL(request.url, "http://localhost")
        if (url.pathname !== "/docs") return httpEffect
        const header = request.headers.authorization ?? ""
        const code = url.searchParams.get("code")
        const allowed =
          (header.startsWith("Bearer ") && tokensEqual(header.slice("Bearer ".length), token)) ||
          (code !== null && codes.redeem(code, Date.now()))
        if (!allowed) return Effect.succeed(refuse())
        return Effect.map(httpEffect, (response) =>
          response.body._tag === "Uint8Array"
            ? HttpServerResponse.setHeaders(response, {
                "content-security-policy": policyOf(response.body.body),
                "cache-control": "no-store",
                "referrer-policy": "no-referrer",
                "x-content-type-options": "nosniff",
              })
            : response,
        )
      }),
    { global: true },
  )
}
