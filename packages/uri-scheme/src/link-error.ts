// What went wrong with a link, named by the part at fault (`wkey`, `v`,
// `kind`, ...). Reasons never quote a secret value: they give lengths and
// positions instead.
import { Data, Predicate } from "effect"

/** The link is malformed: `part` is the parameter or piece at fault. */
export class InvalidLink extends Data.TaggedError("InvalidLink")<{
  readonly part: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid save+dweb link: ${this.part}: ${this.reason}`
  }
}

/** The link is well formed but written in a version this code does not know. */
export class UnsupportedVersion extends Data.TaggedError("UnsupportedVersion")<{
  readonly version: string
  readonly supported: ReadonlyArray<number>
}> {
  get part(): "v" {
    return "v"
  }
  get reason(): string {
    return `version ${this.version} is not supported (supported: ${this.supported.join(", ")}); the link may come from a newer app`
  }
  override get message(): string {
    return `unsupported save+dweb link: ${this.reason}`
  }
}

/**
 * The unversioned `save+dweb::?dht=...&enc=...&pk=...&sk=...` link (one colon or two) of the
 * original Rust backend. It handed every member the owner's secret key, so it
 * is refused rather than converted.
 */
export class LegacyLink extends Data.TaggedError("LegacyLink") {
  get part(): "link" {
    return "link"
  }
  get reason(): string {
    return "this is the legacy unversioned format (save+dweb::?dht=...) of the original Save DWeb backend, which is not supported; ask the sender for a new link"
  }
  override get message(): string {
    return `unsupported save+dweb link: ${this.reason}`
  }
}

export type LinkError = InvalidLink | UnsupportedVersion | LegacyLink

export const isLinkError = (u: unknown): u is LinkError =>
  Predicate.isTagged(u, "InvalidLink") ||
  Predicate.isTagged(u, "UnsupportedVersion") ||
  Predicate.isTagged(u, "LegacyLink")
