import { blobStoreCompliance } from "../src/compliance.ts"
import { irohStore } from "./iroh-helpers.ts"

blobStoreCompliance("BlobStore.layer (Iroh)", { makeStore: irohStore() })
