// The API's handlers, one module per route group.
import { Layer } from "effect"
import { fileRoutes } from "./files.ts"
import { groupRoutes } from "./groups.ts"
import { backupRoutes, pairingRoutes, signInRoutes } from "./links.ts"
import type { HandlerDeps } from "./shared.ts"
import { nodeRoutes, systemRoutes } from "./system.ts"

export { errorResponse, type HandlerDeps } from "./shared.ts"

export const handlers = (deps: HandlerDeps) =>
  Layer.mergeAll(
    systemRoutes(deps),
    nodeRoutes(deps),
    groupRoutes(deps),
    fileRoutes(deps),
    pairingRoutes(deps),
    backupRoutes(deps),
    signInRoutes(deps),
  )
