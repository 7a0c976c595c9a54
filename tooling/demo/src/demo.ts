// The demo on the layers that exist, until the daemon (issue 8) does it for real: alice and
// bob, each with a Veilid node of their own on a private testnet and an Iroh store of
// their own, share one file. Every step runs on the real network layers and reports what
// it did; nothing here is simulated or in memory.
import type { BlobHash, FetchResult, IrohSource } from "@save-dweb/blob-store"
import {
  decryptFileStream,
  deriveKey,
  encryptFileStream,
  GroupSecret,
  KeyName,
  makeBlake3Hasher,
  toHex,
} from "@save-dweb/crypto"
import type { OpenedRecord } from "@save-dweb/dht-records"
import {
  describeLink,
  formatLink,
  GroupInvite,
  parseGroupInvite,
  ReadCapability,
} from "@save-dweb/uri-scheme"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Data, Duration, Effect, Redacted, Scope, Stream } from "effect"
import { retryUntil, someUntil } from "./deadline.ts"
import { type FileSource, fileName, fileStream } from "./file-source.ts"
import { DemoGroup, demoGroupSchema } from "./group-record.ts"
import { LOCATE_PROTOCOL, type LocateResponse, locate, serveLocate } from "./locate.ts"
import { startParticipant } from "./participant.ts"

export const stepIds = [
  "testnet",
  "nodes",
  "group",
  "file",
  "serve",
  "invite",
  "join",
  "locate",
  "fetch",
  "decrypt",
  "shutdown",
] as const
export type StepId = (typeof stepIds)[number]

export interface Step {
  readonly id: StepId
  readonly title: string
  readonly lines: ReadonlyArray<string>
  readonly tookMs: number
}

export interface DemoOptions {
  readonly file: FileSource
  readonly report: (step: Step) => void
  /** Group name alice picks. */
  readonly groupName?: string
  /**
   * Deadline of each wait on the network (nodes ready, a DHT value arriving, an answer over
   * the tunnel, the fetch). Generous by default: a loaded 2-core machine is slow.
   */
  readonly deadline?: Duration.Input
}

export interface DemoResult {
  readonly recordKey: string
  readonly link: string
  readonly fileName: string
  readonly blobHash: BlobHash
  readonly plaintextBytes: number
  readonly storedBytes: number
  readonly fetched: FetchResult
  readonly fetchMillis: number
  readonly aliceHash: string
  readonly bobHash: string
  readonly bobBytes: number
  /** alice's and bob's Iroh store directories (gone once the demo returns). */
  readonly storeDirs: ReadonlyArray<string>
  /** How often alice's route died and she republished a new one during the run. */
  readonly routeRenewals: number
  readonly totalMillis: number
}

/** A step failed; `step` says which, `message` what went wrong. */
export class DemoFailed extends Data.TaggedError("DemoFailed")<{
  readonly step: StepId
  readonly message: string
  readonly cause?: unknown
}> {}

const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error
    ? `${(error as { _tag?: string })._tag ?? "Error"}: ${String(error.message)}`
    : String(error)

const MiB = 1024 * 1024
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const bytes = (n: number) => `${n.toLocaleString("en-US")} bytes`
const rate = (n: number, ms: number) => {
  const perSecond = n / (Math.max(ms, 1) / 1000)
  return perSecond >= MiB
    ? `${(perSecond / MiB).toFixed(1)} MiB/s`
    : `${(perSecond / 1024).toFixed(1)} KiB/s`
}
const short = (text: string) => `${text.slice(0, 16)}…`
const quoted = (text: string) => JSON.stringify(text)
/** A link as text, with every secret parameter replaced: safe to print. */
export const redactLinkText = (link: string) =>
  link.replace(/([?&](?:secret|wkey|dht|auth|access|data)=)[^&]+/g, "$1<redacted>")

interface Report {
  readonly title: string
  readonly lines: ReadonlyArray<string>
}

/** Runs one step: its failure becomes `DemoFailed` naming the step; success is reported. */
const stepOf =
  (report: (step: Step) => void) =>
  <A, E, R>(id: StepId, run: Effect.Effect<readonly [A, Report], E, R>) =>
    Effect.gen(function* () {
      const started = performance.now()
      const [value, { title, lines }] = yield* run.pipe(
        Effect.mapError((cause) =>
          cause instanceof DemoFailed
            ? cause
            : new DemoFailed({ step: id, message: messageOf(cause), cause }),
        ),
      )
      report({ id, title, lines, tookMs: performance.now() - started })
      return value
    })

const isTimeout = (error: { readonly _tag: string }) => error._tag === "RecordTimeout"

const flow = (options: DemoOptions) =>
  Effect.gen(function* () {
    const step = stepOf(options.report)
    const deadline = options.deadline ?? Duration.seconds(120)
    const deadlineMs = Duration.toMillis(Duration.fromInputUnsafe(deadline))
    const groupName = options.groupName ?? "Field notes"
    const name = fileName(options.file)

    // 1. The private network.
    const testnet = yield* step(
      "testnet",
      Effect.map(withTestnet({ readyTimeoutMs: deadlineMs }), (testnet) => [
        testnet,
        {
          title: `private Veilid testnet: ${testnet.nodes.length} nodes ready in ${seconds(testnet.readyAfterMs)}`,
          lines: [
            `network namespace ${testnet.namespace} with no route out; DNS TXT bootstrap ${testnet.bootstrap.join(", ")}`,
            `network key from a password made for this run: these nodes cannot meet any other Veilid network`,
          ],
        },
      ]),
    )

    // 2. alice and bob: a Veilid node and an Iroh store each.
    const [alice, bob] = yield* step(
      "nodes",
      Effect.gen(function* () {
        const start = (who: string) => startParticipant(testnet, who, { readyTimeout: deadline })
        const both = yield* Effect.all([start("alice"), start("bob")], { concurrency: 2 })
        const lines = yield* Effect.forEach(both, (p) =>
          Effect.gen(function* () {
            const ids = yield* p.veilid.nodeIds
            const source = yield* p.store.source()
            const iroh = source._tag === "IrohSource" ? source.nodeId : source.id
            return `${p.name}: Veilid node ${short(ids[0] ?? "?")} at ${p.addresses.ipv4}, attached and ready; Iroh node ${short(iroh)}, store ${p.storeDir}`
          }),
        )
        return [both, { title: "alice and bob each start a Veilid node and an Iroh store", lines }]
      }),
    )

    // 3. alice creates the group: a DHT record with the group's name and her repo pointer.
    const secret = yield* GroupSecret.generate
    const dhtKey = deriveKey(secret, KeyName.dhtValues)
    const [record, route] = yield* step(
      "group",
      Effect.gen(function* () {
        const record = yield* alice.records.create(DemoGroup, {
          schema: demoGroupSchema,
          encryptionKey: dhtKey,
        })
        const route = yield* alice.tunnels.route
        const retry = { retryable: isTimeout, deadline }
        yield* retryUntil("write the group's name", record.set(0, groupName), retry)
        yield* retryUntil(
          "write alice's repo pointer",
          record.set(1, { member: "alice", route: route.blob }),
          retry,
        )
        return [
          [record, route] as const,
          {
            title: `alice creates the group ${quoted(groupName)}: a DHT record`,
            lines: [
              `record ${record.key}`,
              `subkey 0: the group's name; subkey 1: alice's repo pointer with her tunnel's private route (${route.blob.length}-byte route blob)`,
              `values are CBOR sealed with the group's dht-values key: DHT nodes hold ciphertext only`,
            ],
          },
        ]
      }),
    )
    // A route that dies is replaced by the tunnels service; alice republishes the new one.
    let routeRenewals = 0
    yield* alice.tunnels.routeChanges.pipe(
      Stream.drop(1),
      Stream.runForEach((next) =>
        retryUntil(
          "republish alice's route",
          record.set(1, { member: "alice", route: next.blob }),
          {
            retryable: isTimeout,
            deadline,
          },
        ).pipe(
          Effect.tap(() =>
            Effect.sync(() => {
              routeRenewals += 1
            }),
          ),
          Effect.ignore,
        ),
      ),
      Effect.forkScoped,
    )

    // 4. alice encrypts the file into her blob store.
    const fileKey = deriveKey(secret, KeyName.fileContents)
    const [hash, aliceHash, plaintextBytes, storedBytes] = yield* step(
      "file",
      Effect.gen(function* () {
        const hasher = yield* makeBlake3Hasher
        let count = 0
        const started = performance.now()
        const plaintext = fileStream(options.file).pipe(
          Stream.tap((chunk) =>
            Effect.sync(() => {
              hasher.update(chunk)
              count += chunk.length
            }),
          ),
        )
        const hash = yield* alice.store.addStream(plaintext.pipe(encryptFileStream(fileKey)))
        const took = performance.now() - started
        const stored = yield* alice.store.size(hash)
        const digest = toHex(hasher.digest())
        return [
          [hash, digest, count, stored] as const,
          {
            title: `alice encrypts ${quoted(name)} into her blob store`,
            lines: [
              `${bytes(count)} → ${bytes(stored)} stored, encrypted as a stream with the group's file-contents key (${rate(count, took)}, read, encrypted and stored)`,
              `blob hash ${hash}: BLAKE3 of the ciphertext, the name Iroh gives the blob`,
              `BLAKE3 of the plaintext ${digest}`,
            ],
          },
        ]
      }),
    )

    // 5. alice answers "where is file X" on her tunnel, to callers with the group's key.
    const authKey = deriveKey(secret, KeyName.tunnelAuth)
    yield* step(
      "serve",
      Effect.gen(function* () {
        yield* serveLocate(alice.tunnels, alice.store, new Map([[name, hash]]), authKey)
        return [
          undefined,
          {
            title: `alice answers "where is file X" over her tunnel`,
            lines: [
              `protocol ${LOCATE_PROTOCOL} on her private route ${short(route.routeId)}; a caller must prove the group's tunnel-auth key`,
              `the answer carries her Iroh node's address: given to members who ask, never written to the DHT`,
            ],
          },
        ] as const
      }),
    )

    // 6. alice makes a read invite and hands it to bob (here: a string passed along).
    const link = yield* step(
      "invite",
      Effect.sync(() => {
        const invite = GroupInvite.make({
          group: record.key,
          name: groupName,
          capability: ReadCapability.make({
            groupSecret: Redacted.make(Redacted.value(secret)),
          }),
        })
        const text = formatLink(invite)
        return [
          text,
          {
            title: "alice makes a read invite and hands it to bob",
            lines: [
              describeLink(invite),
              `${text.length}-character link: ${redactLinkText(text)}`,
              `bob is also told the file's name: ${quoted(name)}`,
            ],
          },
        ] as const
      }),
    )

    // 7. bob joins: parses the link, opens the record, reads the name and alice's route.
    const [bobSecret, pointer, opened] = yield* step(
      "join",
      Effect.gen(function* () {
        const invite = yield* parseGroupInvite(link)
        if (invite.capability._tag === "ReplicateCapability") {
          return yield* new DemoFailed({
            step: "join",
            message: "a replicate invite cannot decrypt files",
          })
        }
        const bobSecret = yield* GroupSecret.fromBytes(
          Redacted.value(invite.capability.groupSecret),
        )
        const opened: OpenedRecord<typeof DemoGroup> = yield* retryUntil(
          "open the group record",
          bob.records.open(DemoGroup, invite.group, {
            encryptionKey: deriveKey(bobSecret, KeyName.dhtValues),
          }),
          // Under load the record may not be found at once: values spread over the DHT.
          {
            retryable: (e) => e._tag === "RecordTimeout" || e._tag === "RecordNotFound",
            deadline,
          },
        )
        const readFresh = <K extends 0 | 1>(subkey: K) =>
          someUntil(`subkey ${subkey} of the group record`, opened.get(subkey, { refresh: true }), {
            retryable: isTimeout,
            deadline,
          })
        const groupEntry = yield* readFresh(0)
        const repoEntry = yield* readFresh(1)
        return [
          [bobSecret, repoEntry.value, opened] as const,
          {
            title: `bob joins from the link: group ${quoted(groupEntry.value)}`,
            lines: [
              `parsed: ${describeLink(invite)}`,
              `opened ${invite.group} read-only; subkey 0 (seq ${groupEntry.seq}) decrypted: ${quoted(groupEntry.value)}`,
              `subkey 1 (seq ${repoEntry.seq}): ${repoEntry.value.member}'s repo, route blob of ${repoEntry.value.route.length} bytes`,
            ],
          },
        ]
      }),
    )

    // 8. bob asks alice, over her tunnel, where the file is.
    const bobAuth = deriveKey(bobSecret, KeyName.tunnelAuth)
    const answer = yield* step(
      "locate",
      Effect.gen(function* () {
        let routeBlob = pointer.route
        const ask = Effect.gen(function* () {
          const peer = yield* bob.tunnels.connect(routeBlob, bobAuth)
          return yield* locate(peer, name)
        }).pipe(
          // A timed-out route may have been replaced: read alice's pointer again.
          Effect.tapError(() =>
            opened.get(1, { refresh: true }).pipe(
              Effect.tap((entry) =>
                Effect.sync(() => {
                  if (entry._tag === "Some") routeBlob = entry.value.value.route
                }),
              ),
              Effect.ignore,
            ),
          ),
        )
        const started = performance.now()
        const answer: LocateResponse = yield* retryUntil("ask alice where the file is", ask, {
          retryable: (e) => e._tag === "PeerUnreachable" || e._tag === "PeerBusy",
          deadline,
        })
        const took = performance.now() - started
        if (answer._tag === "NotFound") {
          return yield* new DemoFailed({
            step: "locate",
            message: `alice does not know ${quoted(answer.file)}`,
          })
        }
        // The same question from someone holding another group's key gets nothing.
        const otherKey = deriveKey(yield* GroupSecret.generate, KeyName.tunnelAuth)
        const refusal = yield* retryUntil(
          "a stranger's question",
          Effect.gen(function* () {
            const stranger = yield* bob.tunnels.connect(routeBlob, otherKey)
            const outcome = yield* Effect.result(locate(stranger, name))
            if (outcome._tag === "Success") {
              return yield* new DemoFailed({
                step: "locate",
                message: "alice answered a caller without the group's key",
              })
            }
            const error = outcome.failure
            return error._tag === "PeerUnreachable" || error._tag === "PeerBusy"
              ? yield* Effect.fail(error)
              : error
          }),
          { retryable: (e) => e._tag === "PeerUnreachable" || e._tag === "PeerBusy", deadline },
        )
        return [
          answer,
          {
            title: "bob asks alice over her tunnel where the file is",
            lines: [
              `answer in ${took.toFixed(0)} ms over her private route: blob ${short(answer.hash)}, ${bytes(answer.size)}`,
              `at Iroh node ${short(answer.nodeId)}, addresses ${answer.addresses.join(", ")}`,
              `the same question with another group's key: refused (${refusal._tag})`,
            ],
          },
        ] as const
      }),
    )

    // 9. bob fetches the blob from alice's Iroh node; Iroh verifies every chunk.
    const [fetched, fetchMillis] = yield* step(
      "fetch",
      Effect.gen(function* () {
        const source: IrohSource = {
          _tag: "IrohSource",
          id: "alice",
          nodeId: answer.nodeId,
          addresses: answer.addresses,
        }
        const started = performance.now()
        const fetched = yield* retryUntil(
          "fetch from alice's Iroh node",
          bob.store.fetch({ hash: answer.hash, kind: "blob", sources: [source] }),
          { retryable: (e) => e._tag === "AllSourcesFailed", deadline },
        )
        const took = performance.now() - started
        const has = yield* bob.store.has(answer.hash)
        if (!has) {
          return yield* new DemoFailed({
            step: "fetch",
            message: "the fetch ended without the blob",
          })
        }
        return [
          [fetched, took] as const,
          {
            title: "bob fetches the blob from alice's Iroh node",
            lines: [
              `${bytes(fetched.bytes)} over Iroh QUIC in ${(took / 1000).toFixed(2)} s: ${rate(fetched.bytes, took)}`,
              `verified against the BLAKE3 hash chunk by chunk as it arrived; now in bob's store`,
            ],
          },
        ] as const
      }),
    )

    // 10. bob decrypts and compares.
    const [bobHash, bobBytes] = yield* step(
      "decrypt",
      Effect.gen(function* () {
        const hasher = yield* makeBlake3Hasher
        let count = 0
        const started = performance.now()
        yield* bob.store.read(answer.hash).pipe(
          decryptFileStream(deriveKey(bobSecret, KeyName.fileContents)),
          Stream.runForEach((chunk) =>
            Effect.sync(() => {
              hasher.update(chunk)
              count += chunk.length
            }),
          ),
        )
        const took = performance.now() - started
        const digest = toHex(hasher.digest())
        if (digest !== aliceHash || count !== plaintextBytes) {
          return yield* new DemoFailed({
            step: "decrypt",
            message: `bob's plaintext differs: ${bytes(count)}, BLAKE3 ${digest}; alice's ${aliceHash}`,
          })
        }
        return [
          [digest, count] as const,
          {
            title: "bob decrypts it: identical to alice's file",
            lines: [
              `${bytes(count)} decrypted with the file-contents key derived from the link's secret (${rate(count, took)})`,
              `BLAKE3 of the plaintext ${digest}, the same on both sides`,
            ],
          },
        ] as const
      }),
    )

    const result: Omit<DemoResult, "totalMillis"> = {
      recordKey: record.key,
      link,
      fileName: name,
      blobHash: hash,
      plaintextBytes,
      storedBytes,
      fetched,
      fetchMillis,
      aliceHash,
      bobHash,
      bobBytes,
      storeDirs: [alice.storeDir, bob.storeDir],
      routeRenewals,
    }
    return result
  })

/**
 * The whole demo: testnet, two participants, a file from alice to bob, and a clean
 * shutdown of everything it started (also when a step fails).
 */
export const runDemo = Effect.fn("Demo.run")(function* (options: DemoOptions) {
  const started = performance.now()
  const scope = yield* Scope.make()
  const exit = yield* Effect.exit(flow(options).pipe(Scope.provide(scope)))
  const closing = performance.now()
  yield* Scope.close(scope, exit)
  const result = yield* exit
  options.report({
    id: "shutdown",
    title: "everything shut down",
    lines: [
      "Iroh stores and their temp dirs, tunnels and private routes, DHT records, both Veilid nodes, the 8 testnet nodes",
      result.routeRenewals === 0
        ? "alice's route held for the whole run"
        : `alice's route was renewed and republished ${result.routeRenewals} time(s)`,
    ],
    tookMs: performance.now() - closing,
  })
  return { ...result, totalMillis: performance.now() - started } satisfies DemoResult
})
