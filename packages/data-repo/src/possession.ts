// Possession proofs (`save-dweb/data-repo/proof/1/<group id>`): "do you hold this blob
// now?", answered with evidence. The asker sends a fresh random nonce and a random range of
// the blob's stored (encrypted) bytes; the holder answers BLAKE3(nonce ‖ those bytes). The
// asker computes the same from its own copy, so a holder that deleted the blob cannot
// answer, and one that kept a digest from an earlier round cannot reuse it. The encrypted
// bytes are what every tier holds, so a backup server (replicate tier) answers like a member.
// A holder that is asked learns only the hash, which any holder of the group's tunnel key
// may already ask about on the blobs protocol (`Has`).
import { randomBytes, randomInt } from "node:crypto"
import { BlobHash, type BlobStoreService } from "@save-dweb/blob-store"
import { blake3, concatBytes } from "@save-dweb/crypto"
import { type Handler, type Peer, type RequestTooLarge, requestHandler } from "@save-dweb/tunnels"
import { type Duration, Effect, Option, Result, Schema, Stream } from "effect"

/** Bytes of the nonce: a fixed-length prefix, so nonce and range cannot run into each other. */
export const NONCE_BYTES = 32

/** Most bytes one challenge asks the holder to read and hash. */
export const MAX_PROOF_RANGE = 64 * 1024

const Hex = (bytes: number) =>
  Schema.String.check(
    Schema.makeFilter((s: string) =>
      s.length === bytes * 2 && /^[0-9a-f]*$/.test(s) ? undefined : `expected ${bytes} hex bytes`,
    ),
  )

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** What the asker sends: the blob, the range of its stored bytes, the nonce. */
export const ProofChallenge = Schema.Struct({
  v: Schema.Literal(1),
  hash: BlobHash,
  offset: Count,
  length: Count.check(Schema.isLessThanOrEqualTo(MAX_PROOF_RANGE)),
  nonce: Hex(NONCE_BYTES),
})
export type ProofChallenge = typeof ProofChallenge.Type

/**
 * `Proof` carries BLAKE3(nonce ‖ range); `NotHeld` is also the answer for a blob the asker's
 * group may not see here, or a range outside it, so a refusal tells nothing more.
 */
export const ProofAnswer = Schema.Union([
  Schema.TaggedStruct("Proof", { digest: Hex(32) }),
  Schema.TaggedStruct("NotHeld", {}),
])
export type ProofAnswer = typeof ProofAnswer.Type

const ChallengeJson = Schema.fromJsonString(ProofChallenge)
const AnswerJson = Schema.fromJsonString(ProofAnswer)
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
/** The largest valid request or answer is well under this. */
const MAX_MESSAGE_BYTES = 1024

/** A fresh challenge for a blob of `size` stored bytes: a random range of up to 64 KiB. */
export const makeChallenge = (hash: BlobHash, size: number): Effect.Effect<ProofChallenge> =>
  Effect.sync(() => {
    const length = Math.min(size, MAX_PROOF_RANGE)
    return {
      v: 1,
      hash,
      offset: size > length ? randomInt(0, size - length + 1) : 0,
      length,
      nonce: hex(randomBytes(NONCE_BYTES)),
    }
  })

/** BLAKE3(nonce ‖ range) from `store`'s copy; `None` when the store has no such range. */
export const answerFrom = (
  store: BlobStoreService,
  challenge: ProofChallenge,
): Effect.Effect<Option.Option<string>> =>
  Effect.gen(function* () {
    const size = yield* store.size(challenge.hash)
    if (challenge.offset + challenge.length > size) return Option.none()
    const chunks = yield* Stream.runCollect(
      store.read(challenge.hash, { offset: challenge.offset, length: challenge.length }),
    )
    const nonce = Buffer.from(challenge.nonce, "hex")
    return Option.some(hex(blake3(concatBytes(nonce, ...chunks))))
  }).pipe(Effect.orElseSucceed(() => Option.none<string>()))

/**
 * The holder's side: answers challenges about the blobs `allow` admits (those this
 * instance holds for the group) from `store`.
 */
export const proofHandler = (
  store: BlobStoreService,
  allow: (hash: BlobHash) => Effect.Effect<boolean>,
): Handler<RequestTooLarge> =>
  requestHandler(
    (body) =>
      Effect.gen(function* () {
        const challenge = Schema.decodeUnknownResult(ChallengeJson)(utf8Decoder.decode(body))
        const digest =
          Result.isSuccess(challenge) && (yield* allow(challenge.success.hash))
            ? yield* answerFrom(store, challenge.success)
            : Option.none<string>()
        const answer: ProofAnswer = Option.match(digest, {
          onNone: () => ({ _tag: "NotHeld" }),
          onSome: (d) => ({ _tag: "Proof", digest: d }),
        })
        return utf8.encode(Schema.encodeSync(AnswerJson)(answer))
      }),
    { maxRequestBytes: MAX_MESSAGE_BYTES },
  )

/**
 * What a holder showed: `holds` (its proof matched ours), `absent` (it said it does not
 * hold the blob, or its proof did not match: a holder that lies is not counted), or
 * `unknown` (no answer: unreachable, too slow or garbled). Unknown is never counted as
 * holding.
 */
export type Possession = "holds" | "absent" | "unknown"

/** Asks `peer` to prove it holds the blob; `expected` is the digest from the asker's copy. */
export const askPossession = (
  peer: Peer,
  protocol: string,
  challenge: ProofChallenge,
  expected: string,
  timeout: Duration.Input,
): Effect.Effect<Possession> =>
  peer
    .request(protocol, utf8.encode(Schema.encodeSync(ChallengeJson)(challenge)), {
      maxResponseBytes: MAX_MESSAGE_BYTES,
    })
    .pipe(
      Effect.timeoutOption(timeout),
      Effect.map(
        Option.match({
          onNone: (): Possession => "unknown",
          onSome: (bytes): Possession => {
            const answer = Schema.decodeUnknownResult(AnswerJson)(utf8Decoder.decode(bytes))
            if (Result.isFailure(answer)) return "unknown"
            return answer.success._tag === "Proof" && answer.success.digest === expected
              ? "holds"
              : "absent"
          },
        }),
      ),
      Effect.catchCause((cause) =>
        Effect.as(Effect.logDebug("data-repo: no possession proof", cause), "unknown" as const),
      ),
    )
