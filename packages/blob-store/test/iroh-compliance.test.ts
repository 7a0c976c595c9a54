import { blobStoreCompliance } from "../src/compliance/index.ts"
import { irohStore } from "./iroh-helpers.ts"

blobStoreCompliance("BlobStore.layer (Iroh)", { makeStore: irohStore() })
