// One button's request: busy while it runs, the API's sentence when it fails.
import { useState } from "preact/hooks"
import { errorText } from "./format.ts"

export const useAction = () => {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)
  const run = async <A,>(action: () => Promise<A>): Promise<A | undefined> => {
    setBusy(true)
    setError(undefined)
    try {
      return await action()
    } catch (e) {
      setError(errorText(e))
      return undefined
    } finally {
      setBusy(false)
    }
  }
  return { busy, error, run }
}

export const ErrorLine = ({ error }: { error: string | undefined }) =>
  error === undefined ? null : (
    <p class="error" role="alert">
      {error}
    </p>
  )
