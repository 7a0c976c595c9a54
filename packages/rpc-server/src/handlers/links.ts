// The routes that take or make links: pairing another device, backup servers, and the
// web page's one-time sign-in codes.
import { Api, Unauthorized } from "@save-dweb/client"
import { Clock, Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"

import { api, type HandlerDeps } from "./shared.ts"

export const pairingRoutes = (deps: HandlerDeps) => {
  const { backend } = deps
  return HttpApiBuilder.group(Api, "pairing", (h) =>
    h.handleAll({
      makeLink: ({ payload }) =>
        api(Effect.map(backend.makePairingLink(payload.groups), (link) => ({ link }))),
      pair: ({ payload }) =>
        api(
          Effect.map(backend.pair(payload.link), (all) => ({
            groups: all.map((g) => ({
              key: g.key,
              name: g.name ?? null,
              tier: g.tier,
              loaded: g.loaded,
            })),
          })),
        ),
    }),
  )
}

export const backupRoutes = (deps: HandlerDeps) => {
  const { backend } = deps
  return HttpApiBuilder.group(Api, "backups", (h) =>
    h.handleAll({
      add: ({ params, payload }) =>
        api(
          Effect.map(backend.addBackup(params.group, payload.link), (r) => ({
            group: r.group,
            server: r.server,
            name: r.name ?? null,
            already: r.already,
          })),
        ),
      forGroup: ({ params }) =>
        api(
          Effect.map(backend.groupBackups(params.group), (all) =>
            all.map((b) => ({
              server: b.server,
              name: b.name ?? null,
              kept: b.kept,
              listedBy: b.listedBy.map((m) => ({
                slot: m.slot,
                memberName: m.memberName ?? null,
                mine: m.mine,
                at: m.at,
              })),
            })),
          ),
        ),
      remove: ({ params, payload }) =>
        api(
          backend.removeBackup(params.group, payload.link, {
            ...(payload.force === undefined ? {} : { force: payload.force }),
          }),
        ),
      removeServer: ({ params, query }) =>
        api(
          backend.removeKeptBackup(params.group, params.server, {
            ...(query.force === undefined ? {} : { force: query.force === "true" }),
          }),
        ),
      held: ({ payload }) => api(backend.listBackups(payload.link)),
    }),
  )
}

export const signInRoutes = (deps: HandlerDeps) => {
  const { signIn } = deps
  return HttpApiBuilder.group(Api, "signIn", (h) =>
    h.handleAll({
      code: () => Effect.map(Clock.currentTimeMillis, (now) => signIn.issue(now)),
      exchange: ({ payload }) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          signIn.redeem(payload.code, now)
            ? Effect.succeed({ token: signIn.token })
            : Effect.fail(
                new Unauthorized({ message: "the sign-in code is wrong, used or expired" }),
              ),
        ),
    }),
  )
}
