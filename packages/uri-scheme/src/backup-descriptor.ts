import { Schema } from "effect"
import { DisplayName } from "./display-name.ts"
import { RecordKey } from "./record-key.ts"
import { SecretKey } from "./secret-key.ts"

/** `save+dweb:backup?...`: how to reach a backup server and prove you may use it. */
export class BackupDescriptor extends Schema.TaggedClass<BackupDescriptor>()("BackupDescriptor", {
  /** The DHT record where the server publishes its current private route. */
  record: RecordKey,
  accessSecret: SecretKey,
  name: Schema.optionalKey(DisplayName),
}) {}
