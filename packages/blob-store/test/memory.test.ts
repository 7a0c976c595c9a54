import { blobStoreCompliance } from "../src/compliance/index.ts"
import { makeMemory } from "../src/memory.ts"

blobStoreCompliance("BlobStore.layerMemory", {
  makeStore: makeMemory({ fetchTimeoutMillis: 5_000 }),
})
