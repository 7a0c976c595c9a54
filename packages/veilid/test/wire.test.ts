import { describe, expect, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import {
  decodeResponse,
  decodeUpdate,
  encodeRequest,
  fromDhtSchema,
  responsePathOf,
  toBase64Url,
  toDhtSchema,
} from "../src/wire.ts"

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`expected success, got ${String(r.failure)}`)
  return r.success
}
const err = <A, E>(r: Result.Result<A, E>): E => {
  if (Result.isSuccess(r)) throw new Error("expected failure")
  return r.failure
}

describe("request encoding", () => {
  it("flattens the op beside the id, as veilid-remote-api's Request expects", () => {
    const json = encodeRequest(7, {
      op: "RoutingContext",
      rc_id: 2,
      rc_op: "GetDhtValue",
      key: "k",
      subkey: 0,
    })
    expect(JSON.parse(json)).toEqual({
      id: 7,
      op: "RoutingContext",
      rc_id: 2,
      rc_op: "GetDhtValue",
      key: "k",
      subkey: 0,
    })
  })

  it("knows where the answer of a nested op sits", () => {
    expect(responsePathOf({ op: "Attach" })).toEqual({ op: "Attach" })
    expect(responsePathOf({ op: "RoutingContext", rc_id: 1, rc_op: "AppCall" })).toEqual({
      op: "RoutingContext",
      sub: "rc_op",
      name: "AppCall",
    })
    expect(responsePathOf({ op: "TableDb", db_id: 1, db_op: "Load" })).toEqual({
      op: "TableDb",
      sub: "db_op",
      name: "Load",
    })
  })

  it.prop("bytes travel as base64url without padding", [Schema.Uint8Array], ([bytes]) => {
    const text = toBase64Url(bytes)
    expect(text).toMatch(/^[A-Za-z0-9_-]*$/)
    expect(Schema.decodeUnknownSync(Schema.Uint8ArrayFromBase64Url)(text)).toEqual(bytes)
  })

  it("DHT schemas round-trip between facade and wire form", () => {
    const smpl = { kind: "SMPL", oCnt: 1, members: [{ mKey: "abc", mCnt: 2 }] } as const
    expect(fromDhtSchema(smpl)).toEqual({
      kind: "SMPL",
      o_cnt: 1,
      members: [{ m_key: "abc", m_cnt: 2 }],
    })
    expect(toDhtSchema(fromDhtSchema(smpl))).toEqual(smpl)
    expect(toDhtSchema(fromDhtSchema({ kind: "DFLT", oCnt: 3 }))).toEqual({ kind: "DFLT", oCnt: 3 })
  })
})

describe("response decoding", () => {
  it("returns the value of a successful response", () => {
    expect(
      ok(
        decodeResponse('{"id":1,"op":"NewRoutingContext","value":3}', { op: "NewRoutingContext" }),
      ),
    ).toBe(3)
    const path = { op: "TableDb", sub: "db_op", name: "Load" } as const
    expect(
      ok(decodeResponse('{"id":2,"op":"TableDb","db_id":1,"db_op":"Load","value":"AgM"}', path)),
    ).toBe("AgM")
  })

  it("unit responses decode to null", () => {
    expect(ok(decodeResponse('{"id":1,"op":"Attach","value":null}', { op: "Attach" }))).toBeNull()
  })

  it("maps the error of a response to its tagged error", () => {
    const path = { op: "RoutingContext", sub: "rc_op", name: "SetDhtValue" } as const
    const json =
      '{"id":1,"op":"RoutingContext","rc_id":1,"rc_op":"SetDhtValue","error":{"kind":"KeyNotFound","key":"VLD0:x"}}'
    expect(err(decodeResponse(json, path))).toMatchObject({
      _tag: "VeilidKeyNotFound",
      key: "VLD0:x",
    })
  })

  it("reports released handles", () => {
    const path = { op: "RoutingContext", sub: "rc_op", name: "AppCall" } as const
    const e = err(
      decodeResponse('{"id":1,"op":"RoutingContext","rc_id":9,"rc_op":"InvalidId"}', path),
    )
    expect(e).toMatchObject({ _tag: "VeilidInternal", kind: "Binding" })
    expect(e.message).toContain("invalid routing context handle")
  })

  it("rejects a response to another op and non-JSON", () => {
    expect(
      err(decodeResponse('{"id":1,"op":"Detach","value":null}', { op: "Attach" })).message,
    ).toContain("answered Detach to Attach")
    expect(err(decodeResponse("nope", { op: "Attach" })).message).toContain("not JSON")
  })
})

describe("update decoding", () => {
  it("decodes AppCall with its bytes and call id", () => {
    const u = ok(
      decodeUpdate(
        '{"kind":"AppCall","sender":null,"route_id":"r1","message":"AQID","call_id":"123"}',
      ),
    )
    expect(u).toEqual({
      _tag: "AppCall",
      sender: undefined,
      routeId: "r1",
      message: new Uint8Array([1, 2, 3]),
      callId: "123",
    })
  })

  it("takes an AppCall's or AppMessage's bytes from beside the JSON, as the binding passes them", () => {
    const bytes = Buffer.from([9, 8, 7])
    const call = ok(
      decodeUpdate(
        '{"kind":"AppCall","sender":null,"route_id":"r1","message":"","call_id":"7"}',
        bytes,
      ),
    )
    expect(call).toMatchObject({ _tag: "AppCall", routeId: "r1", callId: "7" })
    expect(call._tag === "AppCall" && [...call.message]).toEqual([9, 8, 7])
    // A plain Uint8Array over the binding's bytes, like every other byte array it hands out.
    expect(call._tag === "AppCall" && Buffer.isBuffer(call.message)).toBe(false)
    const message = ok(
      decodeUpdate('{"kind":"AppMessage","sender":"VLD0:s","route_id":null,"message":""}', bytes),
    )
    expect(message._tag === "AppMessage" && [...message.message]).toEqual([9, 8, 7])
    // Bytes beside any other update are not taken for anything.
    expect(ok(decodeUpdate('{"kind":"Shutdown"}', bytes))).toEqual({ _tag: "Shutdown" })
  })

  it("decodes Attachment readiness", () => {
    const json = JSON.stringify({
      kind: "Attachment",
      state: "AttachedGood",
      public_internet_ready: true,
      local_network_ready: false,
      uptime: "1",
      attached_uptime: null,
      reliable_peer_count: "4",
      live_peer_count: "4",
      estimated_network_size: "8",
      median_latency: null,
      over_attached_nodes: "0",
    })
    expect(ok(decodeUpdate(json))).toEqual({
      _tag: "Attachment",
      state: "AttachedGood",
      publicInternetReady: true,
      localNetworkReady: false,
    })
  })

  it("decodes ValueChange with and without a value", () => {
    const withValue = ok(
      decodeUpdate(
        '{"kind":"ValueChange","key":"VLD0:k","subkeys":[[0,2]],"count":4,"value":{"seq":5,"data":"_w","writer":"VLD0:w"}}',
      ),
    )
    expect(withValue).toEqual({
      _tag: "ValueChange",
      key: "VLD0:k",
      subkeys: [[0, 2]],
      count: 4,
      value: { seq: 5, data: new Uint8Array([255]), writer: "VLD0:w" },
    })
    const without = ok(
      decodeUpdate('{"kind":"ValueChange","key":"VLD0:k","subkeys":[],"count":0,"value":null}'),
    )
    expect(without).toMatchObject({ _tag: "ValueChange", value: undefined })
  })

  it("decodes RouteChange and Shutdown", () => {
    expect(
      ok(decodeUpdate('{"kind":"RouteChange","dead_routes":["a"],"dead_remote_routes":[]}')),
    ).toEqual({
      _tag: "RouteChange",
      deadRoutes: ["a"],
      deadRemoteRoutes: [],
    })
    expect(ok(decodeUpdate('{"kind":"Shutdown"}'))).toEqual({ _tag: "Shutdown" })
  })

  it("refuses updates it does not understand", () => {
    expect(err(decodeUpdate('{"kind":"AppMessage","message":"!!"}'))._tag).toBe("VeilidInternal")
    expect(err(decodeUpdate('{"kind":"Unheard"}'))._tag).toBe("VeilidInternal")
  })
})
