// Signing the page in: `save-dweb ui` opens `/#code=...`. The fragment never reaches a
// server or a log; the code is exchanged once (POST) for the bearer token, which lives
// in this tab's sessionStorage only (gone when the tab closes, never in a cookie), and
// the code is taken out of the address bar and history at once.
import { makeClient, type SaveDwebClient } from "@save-dweb/client/promise"

const TOKEN_KEY = "save-dweb.token"

/** The code in the URL's fragment, removed from the address bar and history. */
export const takeCodeFromUrl = (): string | undefined => {
  const params = new URLSearchParams(window.location.hash.slice(1))
  const code = params.get("code") ?? undefined
  if (window.location.hash !== "") {
    window.history.replaceState(null, "", window.location.pathname + window.location.search)
  }
  return code === "" ? undefined : code
}

export const clientFor = (token: string): SaveDwebClient =>
  makeClient({ baseUrl: window.location.origin, token })

/** The token kept for this tab, if it is still accepted. */
export const resume = async (): Promise<SaveDwebClient | undefined> => {
  const token = window.sessionStorage.getItem(TOKEN_KEY)
  if (token === null) return undefined
  const client = clientFor(token)
  try {
    await client.status()
    return client
  } catch {
    window.sessionStorage.removeItem(TOKEN_KEY)
    await client.close()
    return undefined
  }
}

/** Exchanges a one-time code for the token; rejects with the API's error (`Unauthorized`). */
export const signIn = async (code: string): Promise<SaveDwebClient> => {
  const anonymous = makeClient({ baseUrl: window.location.origin })
  try {
    const token = await anonymous.signIn.exchange(code)
    window.sessionStorage.setItem(TOKEN_KEY, token)
    return clientFor(token)
  } finally {
    await anonymous.close()
  }
}

export const signOut = () => window.sessionStorage.removeItem(TOKEN_KEY)
