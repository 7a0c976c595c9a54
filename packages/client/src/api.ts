// The HTTP API as an Effect HttpApi: the server's routes, the OpenAPI document and the
// typed client all come from this one description. Paths are versioned (`/v1`).
import { Schema } from "effect"
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi,
} from "effect/http-api"
import {
  BackupAdded,
  BackupLink,
  BackupRemoved,
  GroupBackup,
  HeldGroup,
  RemoveBackup,
} from "./backup-schemas.ts"
import { errorSchemas } from "./errors.ts"
import {
  CopiesSummary,
  CopiesTarget,
  CreateGroup,
  CreateInvite,
  FileCopies,
  FileInfo,
  GroupDetail,
  GroupSummary,
  Health,
  JoinGroup,
  LinkBody,
  Member,
  MemberRemoved,
  PairingRequest,
  PairingResult,
  Reachability,
  Rename,
  RepoSummary,
  ServerEvent,
  SetTransport,
  SignInCode,
  SignInRequest,
  SignInToken,
  Status,
  SyncReport,
} from "./schemas.ts"

/**
 * Bearer-token auth on every route but `health`. It also declares every API error, so
 * each authenticated endpoint documents (and its client decodes) all of them, and turns
 * a request that does not decode into `BadRequest`.
 */
export class Auth extends HttpApiMiddleware.Service<Auth>()("@save-dweb/client/Auth", {
  security: { bearer: HttpApiSecurity.bearer },
  error: errorSchemas,
}) {}

/** Maps requests that fail to decode (`HttpApiSchemaError`) to `BadRequest`. */
export class Decoding extends HttpApiMiddleware.Service<Decoding>()("@save-dweb/client/Decoding", {
  error: errorSchemas,
}) {}

const groupParams = { group: Schema.String }
/** A member by its slot number in the group. */
const memberParams = { group: Schema.String, member: Schema.NumberFromString }
const backupParams = { group: Schema.String, server: Schema.String }
const repoParams = { group: Schema.String, repo: Schema.String }
const fileParams = { group: Schema.String, repo: Schema.String, name: Schema.String }

/**
 * The bytes of a file. HttpApi takes one streaming success per endpoint: the `206` of a
 * `Range` request is added to the OpenAPI document by `openApiDocument`.
 */
const FileBytes = HttpApiSchema.StreamUint8Array()

export class SystemGroup extends HttpApiGroup.make("system", { topLevel: true })
  .add(
    HttpApiEndpoint.get("health", "/health", { success: Health }).annotate(
      OpenApi.Description,
      "Liveness; the only route without a token.",
    ),
  )
  .prefix("/v1") {}

export class NodeGroup extends HttpApiGroup.make("node", { topLevel: true })
  .add(
    HttpApiEndpoint.get("status", "/status", { success: Status }).annotate(
      OpenApi.Description,
      "Veilid attachment and peers, the Iroh node, known and loaded groups.",
    ),
    HttpApiEndpoint.get("events", "/events", {
      success: HttpApiSchema.StreamSse({ data: ServerEvent }),
    }).annotate(
      OpenApi.Description,
      "Server-sent events: sync progress, membership and file changes, groups opened and closed.",
    ),
  )
  .middleware(Decoding)
  .middleware(Auth)
  .prefix("/v1") {}

export class GroupsGroup extends HttpApiGroup.make("groups")
  .add(
    HttpApiEndpoint.get("list", "/groups", { success: Schema.Array(GroupSummary) }),
    HttpApiEndpoint.post("create", "/groups", {
      payload: CreateGroup,
      success: GroupDetail.pipe(HttpApiSchema.status(201)),
    }),
    HttpApiEndpoint.post("join", "/groups/join", {
      payload: JoinGroup,
      success: GroupDetail.pipe(HttpApiSchema.status(201)),
    }).annotate(OpenApi.Description, "Join from an invite link (a write link makes a repo)."),
    HttpApiEndpoint.get("get", "/groups/:group", { params: groupParams, success: GroupDetail }),
    HttpApiEndpoint.delete("leave", "/groups/:group", {
      params: groupParams,
      success: HttpApiSchema.NoContent,
    }).annotate(
      OpenApi.Description,
      "Leave: clears this member's slot (write tiers) and forgets the group here.",
    ),
    HttpApiEndpoint.post("forget", "/groups/:group/forget", {
      params: groupParams,
      success: HttpApiSchema.NoContent,
    }).annotate(
      OpenApi.Description,
      "Forget the group here without leaving it (writes nothing): after pairing, on the old device.",
    ),
    HttpApiEndpoint.post("invite", "/groups/:group/invites", {
      params: groupParams,
      payload: CreateInvite,
      success: LinkBody.pipe(HttpApiSchema.status(201)),
    }).annotate(
      OpenApi.Description,
      "An invite link for a tier: replicate, read, or write (manager only: takes a slot).",
    ),
    HttpApiEndpoint.post("sync", "/groups/:group/sync", {
      params: groupParams,
      success: SyncReport,
    }).annotate(OpenApi.Description, "One sync pass now: every other member's files fetched."),
    HttpApiEndpoint.patch("rename", "/groups/:group", {
      params: groupParams,
      payload: Rename,
      success: GroupDetail,
    }).annotate(OpenApi.Description, "Rename the group (manager only)."),
    HttpApiEndpoint.put("setTransport", "/groups/:group/transport", {
      params: groupParams,
      payload: SetTransport,
      success: GroupDetail,
    }).annotate(
      OpenApi.Description,
      "Change how the group's files travel (manager only): `private` (only over Veilid private routes, no member's IP address told) or `direct` (read-tier members and up also connect to each other's Iroh nodes). The members' daemons follow at their next request.",
    ),
    HttpApiEndpoint.get("members", "/groups/:group/members", {
      params: groupParams,
      success: Schema.Array(Member),
    }),
    HttpApiEndpoint.get("reachability", "/groups/:group/members/:member/reachability", {
      params: memberParams,
      success: Reachability,
    }).annotate(
      OpenApi.Description,
      "Ask the member in that slot for a round trip over the private route its repo record publishes (authenticated with the group's tunnel key; its IP address is never asked). Not reachable is an answer, not an error.",
    ),
    HttpApiEndpoint.delete("removeMember", "/groups/:group/members/:member", {
      params: memberParams,
      success: MemberRemoved,
    }).annotate(
      OpenApi.Description,
      "Remove the member in that slot (manager only): its slot is revoked and the group rotated to new secrets, under a new key (`group` in the answer; the old key keeps finding it here). The other members' daemons follow by themselves; the removed member can read nothing new and fetch nothing.",
    ),
    HttpApiEndpoint.patch("renameMember", "/groups/:group/members/:member", {
      params: memberParams,
      payload: Rename,
      success: HttpApiSchema.NoContent,
    }).annotate(OpenApi.Description, "Rename this member in the group (its own slot only)."),
    HttpApiEndpoint.get("repos", "/groups/:group/repos", {
      params: groupParams,
      success: Schema.Array(RepoSummary),
    }),
    HttpApiEndpoint.get("copies", "/groups/:group/copies", {
      params: groupParams,
      query: {
        atLeast: Schema.optionalKey(
          Schema.NumberFromString.check(
            Schema.isInt(),
            Schema.isBetween({ minimum: 1, maximum: 1000 }),
          ),
        ),
      },
      success: CopiesSummary,
    }).annotate(
      OpenApi.Description,
      "How many of this member's files have at least `atLeast` (default: the group's target, else 1) copies off this device, each holder asked to prove it now.",
    ),
    HttpApiEndpoint.get("copiesTarget", "/groups/:group/copies/target", {
      params: groupParams,
      success: CopiesTarget,
    }),
    HttpApiEndpoint.put("setCopiesTarget", "/groups/:group/copies/target", {
      params: groupParams,
      payload: CopiesTarget,
      success: CopiesTarget,
    }).annotate(
      OpenApi.Description,
      "Keep at least `atLeast` copies off this device (`null`: no target). Kept on this device; own files are checked in the background and each that reaches it is told once as a `CopiesReached` event.",
    ),
  )
  .middleware(Decoding)
  .middleware(Auth)
  .prefix("/v1") {}

export class FilesGroup extends HttpApiGroup.make("files")
  .add(
    HttpApiEndpoint.get("list", "/groups/:group/repos/:repo/files", {
      params: repoParams,
      success: Schema.Array(FileInfo),
    }).annotate(
      OpenApi.Description,
      "Files of a repo (`mine` names this member's own) with local or remote-only status, and whether this member pinned each.",
    ),
    HttpApiEndpoint.put("upload", "/groups/:group/repos/:repo/files/:name", {
      params: fileParams,
      payload: HttpApiSchema.StreamUint8Array({ contentType: "application/octet-stream" }),
      success: FileInfo.pipe(HttpApiSchema.status(201)),
    }).annotate(
      OpenApi.Description,
      "Writes the request body (any content type, streamed, never buffered whole) as the file; own repo only.",
    ),
    HttpApiEndpoint.get("download", "/groups/:group/repos/:repo/files/:name", {
      params: fileParams,
      headers: { range: Schema.optionalKey(Schema.String) },
      success: FileBytes,
    }).annotate(
      OpenApi.Description,
      "The file's plaintext, streamed; one `Range: bytes=a-b` gives 206 with Content-Range (416 when it starts past the end). Fetched from members first when not here.",
    ),
    HttpApiEndpoint.delete("delete", "/groups/:group/repos/:repo/files/:name", {
      params: fileParams,
      success: HttpApiSchema.NoContent,
    }),
    HttpApiEndpoint.get("copies", "/groups/:group/repos/:repo/files/:name/copies", {
      params: fileParams,
      success: FileCopies,
    }).annotate(
      OpenApi.Description,
      "Which members' devices and backup servers hold a complete copy now: each is asked over its private route to prove it (a fresh nonce and a random range of the stored blob), checked against this device's copy (which it needs: pin the file first). One that does not answer is `unknown`; one that does not hold it, or fails the proof, is left out.",
    ),
    HttpApiEndpoint.post("pin", "/groups/:group/repos/:repo/files/:name/pin", {
      params: fileParams,
      success: HttpApiSchema.NoContent,
    }).annotate(OpenApi.Description, "Keep a local copy (fetched now if missing)."),
    HttpApiEndpoint.delete("unpin", "/groups/:group/repos/:repo/files/:name/pin", {
      params: fileParams,
      success: HttpApiSchema.NoContent,
    }).annotate(
      OpenApi.Description,
      "Drop the local copy of another member's file, pinned or synced: later syncs leave it out until it is pinned again (own files stay).",
    ),
  )
  .middleware(Decoding)
  .middleware(Auth)
  .prefix("/v1") {}

export class PairingGroup extends HttpApiGroup.make("pairing")
  .add(
    HttpApiEndpoint.post("makeLink", "/pairing/links", {
      payload: PairingRequest,
      success: LinkBody.pipe(HttpApiSchema.status(201)),
    }).annotate(
      OpenApi.Description,
      "A device-pairing link carrying this member's identity (slot, writer key, repo key) in the groups asked for. Treat it as a secret.",
    ),
    HttpApiEndpoint.post("pair", "/pairing", {
      payload: LinkBody,
      success: PairingResult,
    }).annotate(
      OpenApi.Description,
      "Use a pairing link: this device becomes that member in its groups and continues its repos.",
    ),
  )
  .middleware(Decoding)
  .middleware(Auth)
  .prefix("/v1") {}

/**
 * Signing a browser in without putting the token in a URL: a holder of the token asks for
 * a one-time code (`code`), the page exchanges it once for the token (`exchange`, the one
 * route besides health without a token; a wrong, used or expired code is 401).
 */
export class SignInGroup extends HttpApiGroup.make("signIn")
  .add(
    HttpApiEndpoint.post("code", "/sign-in/codes", {
      success: SignInCode.pipe(HttpApiSchema.status(201)),
    })
      .middleware(Auth)
      .annotate(
        OpenApi.Description,
        "A one-time sign-in code for a browser: usable once, for two minutes (what `save-dweb ui` puts in the page's URL fragment).",
      ),
    HttpApiEndpoint.post("exchange", "/sign-in", {
      payload: SignInRequest,
      success: SignInToken,
    }).annotate(
      OpenApi.Description,
      "Exchange a sign-in code for the bearer token (no token needed). The code is spent whatever the answer.",
    ),
  )
  .middleware(Decoding)
  .prefix("/v1") {}

/** Backup servers: register a group with one, list, take it off again (issue 9). */
export class BackupsGroup extends HttpApiGroup.make("backups")
  .add(
    HttpApiEndpoint.post("add", "/groups/:group/backups", {
      params: groupParams,
      payload: BackupLink,
      success: BackupAdded.pipe(HttpApiSchema.status(201)),
    }).annotate(
      OpenApi.Description,
      "Register the group with a backup server (its descriptor link in the body): it gets the group's replicate link, never a key that decrypts, and is listed in this member's repo record so every member can fetch from it. Needs an own repo.",
    ),
    HttpApiEndpoint.get("forGroup", "/groups/:group/backups", {
      params: groupParams,
      success: Schema.Array(GroupBackup),
    }).annotate(OpenApi.Description, "The backup servers the group's members list."),
    HttpApiEndpoint.post("remove", "/groups/:group/backups/remove", {
      params: groupParams,
      payload: RemoveBackup,
      success: BackupRemoved,
    }).annotate(
      OpenApi.Description,
      "Ask the backup server to drop the group and free its blobs, and stop listing it (`force`: stop listing it even when it cannot be reached).",
    ),
    HttpApiEndpoint.delete("removeServer", "/groups/:group/backups/:server", {
      params: backupParams,
      query: { force: Schema.optionalKey(Schema.Literals(["true", "false"])) },
      success: BackupRemoved,
    }).annotate(
      OpenApi.Description,
      "`remove` by the server's key, with the link this device kept when it added the server (its access secret never travels in a URL): 404 NotFound when none of that server is kept here (another member added it, or it was added before links were kept; remove it with its link then). `force=true` as for `remove`.",
    ),
    HttpApiEndpoint.post("held", "/backups/groups", {
      payload: BackupLink,
      success: Schema.Array(HeldGroup),
    }).annotate(
      OpenApi.Description,
      "The groups a backup server holds, with its last sync of each, asked over its private route with the link's access secret.",
    ),
  )
  .middleware(Decoding)
  .middleware(Auth)
  .prefix("/v1") {}

export class Api extends HttpApi.make("save-dweb")
  .add(SystemGroup)
  .add(NodeGroup)
  .add(GroupsGroup)
  .add(FilesGroup)
  .add(PairingGroup)
  .add(BackupsGroup)
  .add(SignInGroup)
  .annotateMerge(
    OpenApi.annotations({
      title: "save-dweb daemon API",
      version: "1",
      description:
        'Local HTTP API of a save-dweb backend. Every route but /v1/health needs `Authorization: Bearer <token>` (the token is in `<dataDir>/rpc-token`). Errors are `{ "error": "<Tag>", "message": "..." }`.',
    }),
  ) {}
