// The demo until the daemon exists (issue 8): everything a group needs before
// it touches the network, done for real and checked, one printed step at a time.
import {
  blake3,
  blake3Stream,
  DecryptError,
  decryptFileStream,
  deriveKey,
  deriveSigningSeed,
  encryptFileStream,
  GroupSecret,
  KeyName,
  randomBytes,
  SecretKey,
  sign,
  signingKeyPairFromSeed,
  verify,
} from "@save-dweb/crypto"
import {
  BackupDescriptor,
  describeLink,
  formatLink,
  GroupInvite,
  PairingEntry,
  PairingLink,
  parseLink,
  ReadCapability,
  ReplicateCapability,
  WriteCapability,
} from "@save-dweb/uri-scheme"
import { Effect, Redacted, Stream } from "effect"

const FILE_BYTES = 8 * 1024 * 1024
const PIECE_BYTES = 256 * 1024

export interface Step {
  readonly title: string
  readonly detail: string
}

const hex = (bytes: Uint8Array, n = 8) => Buffer.from(bytes.subarray(0, n)).toString("hex")

/** A record key shaped like Veilid's; no DHT record exists behind it yet. */
const sampleRecordKey = Effect.map(
  randomBytes(32),
  (bytes) => `VLD0:${Buffer.from(bytes).toString("base64url")}`,
)

const fileStream = (bytes: Uint8Array) =>
  Stream.fromIterable(
    Array.from({ length: Math.ceil(bytes.length / PIECE_BYTES) }, (_, i) =>
      bytes.subarray(i * PIECE_BYTES, (i + 1) * PIECE_BYTES),
    ),
  )

const collect = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(chunks))

export const runSelfCheck = (report: (step: Step) => void, fileBytes = FILE_BYTES) =>
  Effect.gen(function* () {
    const groupSecret = yield* GroupSecret.generate
    const dhtKey = deriveKey(groupSecret, KeyName.dhtValues)
    const fileKey = deriveKey(groupSecret, KeyName.fileContents)
    const authKey = deriveKey(groupSecret, KeyName.tunnelAuth)
    const distinct = new Set([dhtKey, fileKey, authKey].map((k) => SecretKey.toHex(k))).size === 3
    if (!distinct) return yield* Effect.die("derived keys are not distinct")
    report({
      title: "group secret and its subkeys",
      detail: `secret ${String(groupSecret)}; dht-values, file-contents and tunnel-auth keys derived and distinct`,
    })

    const plaintext = yield* randomBytes(fileBytes)
    const ciphertext = yield* collect(fileStream(plaintext).pipe(encryptFileStream(fileKey)))
    const storedHash = blake3(ciphertext)
    report({
      title: "file encrypted as a stream",
      detail: `${fileBytes} bytes → ${ciphertext.length} bytes; Iroh blob hash (BLAKE3 of the ciphertext) ${hex(storedHash)}…`,
    })

    const decrypted = yield* collect(fileStream(ciphertext).pipe(decryptFileStream(fileKey)))
    const same = Buffer.compare(Buffer.from(plaintext), decrypted) === 0
    const streamedHash = yield* blake3Stream(fileStream(ciphertext))
    if (!same || hex(streamedHash, 32) !== hex(storedHash, 32)) {
      return yield* Effect.die("round trip or streamed hash mismatch")
    }
    report({
      title: "file decrypted and verified",
      detail: "plaintext identical; streamed BLAKE3 equals the one-shot hash",
    })

    const tampered = Buffer.from(ciphertext)
    const middle = tampered.length >> 1
    tampered.writeUInt8((tampered.readUInt8(middle) ^ 1) & 0xff, middle)
    const refused = yield* collect(fileStream(tampered).pipe(decryptFileStream(fileKey))).pipe(
      Effect.flip,
    )
    if (!(refused instanceof DecryptError)) return yield* Effect.die("tampering went unnoticed")
    report({ title: "tampered file refused", detail: `${refused._tag}: ${refused.message}` })

    const writerSeed = deriveSigningSeed(groupSecret, "demo-writer-slot-3")
    const writer = signingKeyPairFromSeed(writerSeed)
    const signature = sign(writer.secretKey, storedHash)
    yield* verify(writer.publicKey, storedHash, signature)
    report({
      title: "writer key signs the repo root",
      detail: `public key ${hex(writer.publicKey)}…`,
    })

    const group = yield* sampleRecordKey
    const backupRecord = yield* sampleRecordKey
    const repoRecord = yield* sampleRecordKey
    const accessSecret = yield* randomBytes(32)
    const repoOwnerSeed = yield* randomBytes(32)
    const secretBytes = Redacted.make(Redacted.value(groupSecret))
    const links = [
      GroupInvite.make({
        group,
        name: "Field notes",
        capability: ReplicateCapability.make({
          dhtKey: Redacted.make(Redacted.value(dhtKey)),
          authKey: Redacted.make(Redacted.value(authKey)),
        }),
      }),
      GroupInvite.make({ group, capability: ReadCapability.make({ groupSecret: secretBytes }) }),
      GroupInvite.make({
        group,
        capability: WriteCapability.make({
          groupSecret: secretBytes,
          slot: 3,
          writerSeed: Redacted.make(Redacted.value(writerSeed)),
        }),
      }),
      BackupDescriptor.make({
        record: backupRecord,
        accessSecret: Redacted.make(accessSecret),
        name: "Archive box",
      }),
      PairingLink.make({
        entries: [
          PairingEntry.make({
            group,
            groupSecret: secretBytes,
            slot: 3,
            writerSeed: Redacted.make(Redacted.value(writerSeed)),
            repo: repoRecord,
            repoOwnerSeed: Redacted.make(repoOwnerSeed),
          }),
        ],
      }),
    ]
    for (const link of links) {
      const text = formatLink(link)
      const parsed = yield* parseLink(text)
      if (formatLink(parsed) !== text) return yield* Effect.die("link round trip")
      report({
        title: `link: ${describeLink(link)}`,
        detail: `${text.length} characters, parsed back identical (secrets print as ${String(secretBytes)})`,
      })
    }

    const bad = yield* parseLink(`${formatLink(links[2] as GroupInvite)}x`).pipe(Effect.flip)
    report({ title: "damaged link refused", detail: `${bad._tag}: ${bad.message}` })
  })
