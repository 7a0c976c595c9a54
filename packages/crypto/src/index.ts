export { Blake3Hash, type Blake3Hasher, blake3, blake3Stream, makeBlake3Hasher } from "./blake3.ts"
export type { PublicBytes, PublicKind, SecretBytes, SecretKind } from "./branded.ts"
export {
  concatBytes,
  constantTimeEqual,
  randomBytes,
  toBase64Url,
  toHex,
} from "./bytes.ts"
export {
  type EnvelopeOptions,
  envelopeOverhead,
  openEnvelope,
  sealEnvelope,
} from "./envelope.ts"
export {
  DecryptError,
  type DecryptErrorReason,
  type EnvelopeFormat,
  InvalidEnvelope,
  type InvalidEnvelopeReason,
  InvalidHash,
  InvalidKey,
  InvalidMac,
  type InvalidMacReason,
  InvalidSignature,
  type InvalidSignatureReason,
  type MalformedReason,
} from "./errors.ts"
export {
  DEFAULT_CHUNK_SIZE,
  type DecryptOptions,
  decryptedFileSize,
  decryptFile,
  decryptFileStream,
  encryptedFileSize,
  encryptFile,
  encryptFileStream,
  FILE_HEADER_BYTES,
  FILE_VERSION,
  type FileFormatVersion,
  type FileLayout,
  type FileStreamOptions,
  MAX_CHUNK_SIZE,
  readFileLayout,
  recordOffset,
  recordOfOffset,
} from "./file-stream.ts"
export { deriveKey, deriveSigningSeed, KeyName } from "./kdf.ts"
export { GroupSecret, SecretKey } from "./keys.ts"
export { Mac, mac, verifyMac } from "./mac.ts"
export {
  derivePassphraseKey,
  newPassphraseKdf,
  PassphraseKdf,
  PassphraseKdfError,
} from "./passphrase.ts"
export {
  generateSigningKeyPair,
  PublicKey,
  Signature,
  type SigningKeyPair,
  type SigningSecretKey,
  SigningSeed,
  sign,
  signingKeyPairFromSeed,
  signingSeedOf,
  verify,
} from "./signing.ts"
