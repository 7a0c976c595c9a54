// The group routes: create, join, list, invite, members, transport and the rest.
import { Api } from "@save-dweb/client"
import { Duration, Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { toApiError } from "../error-mapping.ts"

import { api, detailOf, type HandlerDeps } from "./shared.ts"

export const groupRoutes = (deps: HandlerDeps) => {
  const { backend } = deps
  return HttpApiBuilder.group(Api, "groups", (h) =>
    h.handleAll({
      list: () =>
        api(
          Effect.map(backend.listGroups, (all) =>
            all.map((g) => ({ key: g.key, name: g.name ?? null, tier: g.tier, loaded: g.loaded })),
          ),
        ),
      create: ({ payload }) =>
        api(
          Effect.flatMap(
            backend.createGroup(payload.name, {
              ...(payload.memberName === undefined ? {} : { memberName: payload.memberName }),
              ...(payload.repoName === undefined ? {} : { repoName: payload.repoName }),
              ...(payload.sourcePolicy === undefined ? {} : { sourcePolicy: payload.sourcePolicy }),
              ...(payload.transport === undefined ? {} : { transport: payload.transport }),
            }),
            detailOf,
          ),
        ),
      join: ({ payload }) =>
        api(
          Effect.flatMap(
            backend.joinGroup(payload.link, {
              ...(payload.memberName === undefined ? {} : { memberName: payload.memberName }),
              ...(payload.repoName === undefined ? {} : { repoName: payload.repoName }),
            }),
            detailOf,
          ),
        ),
      get: ({ params }) => api(Effect.flatMap(backend.loadGroup(params.group), detailOf)),
      leave: ({ params }) => api(backend.leaveGroup(params.group)),
      forget: ({ params }) =>
        api(
          Effect.gen(function* () {
            const known = yield* backend.listGroups
            if (!known.some((g) => g.key === params.group)) {
              return yield* Effect.fail({ _tag: "UnknownGroup", key: params.group } as const)
            }
            yield* backend.forgetGroup(params.group)
          }),
        ),
      invite: ({ params, payload }) =>
        api(Effect.map(backend.invite(params.group, payload.tier), (link) => ({ link }))),
      sync: ({ params }) =>
        api(
          Effect.map(backend.syncGroup(params.group), (result) => ({
            synced: [...result.synced].map(([repo, root]) => ({ repo, root })),
            failed: [...result.failed].map(([repo, error]) => ({
              repo,
              error: error._tag,
              message: toApiError(error).message,
            })),
            freed: result.freed.length,
          })),
        ),
      rename: ({ params, payload }) =>
        api(
          Effect.andThen(backend.renameGroup(params.group, payload.name), () =>
            Effect.flatMap(backend.loadGroup(params.group), detailOf),
          ),
        ),
      setTransport: ({ params, payload }) =>
        api(
          Effect.andThen(backend.setTransport(params.group, payload.transport), () =>
            Effect.flatMap(backend.loadGroup(params.group), detailOf),
          ),
        ),
      // Once the group is loaded, whatever stops the round trip (no repo or route yet, the
      // member offline, the call refused) is the answer, not an error.
      reachability: ({ params }) =>
        api(
          Effect.andThen(backend.loadGroup(params.group), () =>
            backend.ping(params.group, params.member).pipe(
              Effect.timeoutOrElse({
                duration: "15 seconds",
                orElse: () => Effect.fail({ message: "no answer within 15 s" }),
              }),
              Effect.match({
                onSuccess: (rtt) => ({
                  slot: params.member,
                  reachable: true,
                  roundTripMs: Math.round(Duration.toMillis(rtt)),
                  reason: null,
                }),
                onFailure: (e) => ({
                  slot: params.member,
                  reachable: false,
                  roundTripMs: null,
                  reason: e.message,
                }),
              }),
            ),
          ),
        ),
      removeMember: ({ params }) => api(backend.removeMember(params.group, params.member)),
      renameMember: ({ params, payload }) =>
        api(backend.renameMember(params.group, params.member, payload.name)),
      members: ({ params }) =>
        api(
          Effect.map(backend.members(params.group), (all) =>
            all.map((m) => ({
              slot: m.slot,
              name: m.name ?? null,
              repo: m.repo ?? null,
              joinedAt: m.joinedAt,
              mine: m.mine,
            })),
          ),
        ),
      repos: ({ params }) =>
        api(
          Effect.flatMap(backend.loadGroup(params.group), (loaded) =>
            Effect.map(loaded.repos, (all) =>
              all.map((r) => ({
                key: r.key,
                slot: r.slot,
                memberName: r.memberName ?? null,
                name: r.name,
                mine: r.mine,
              })),
            ),
          ),
        ),
      copies: ({ params, query }) => api(backend.copiesSummary(params.group, query.atLeast)),
      copiesTarget: ({ params }) =>
        api(Effect.map(backend.copiesTarget(params.group), (t) => ({ atLeast: t ?? null }))),
      setCopiesTarget: ({ params, payload }) =>
        api(
          Effect.andThen(backend.setCopiesTarget(params.group, payload.atLeast ?? undefined), () =>
            Effect.map(backend.copiesTarget(params.group), (t) => ({ atLeast: t ?? null })),
          ),
        ),
    }),
  )
}
