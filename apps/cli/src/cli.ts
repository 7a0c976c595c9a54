// The `save-dweb` command tree: the root's shared flags and one command group per module.
import { Command } from "effect/cli"
import { api } from "./commands/api.ts"
import { backup } from "./commands/backup.ts"
import { root } from "./commands/common.ts"
import { daemon, status } from "./commands/daemon.ts"
import { events } from "./commands/events.ts"
import { file } from "./commands/file.ts"
import { group } from "./commands/group.ts"
import { members, repos } from "./commands/members.ts"
import { pair } from "./commands/pair.ts"
import { sync } from "./commands/sync.ts"
import { ui } from "./commands/ui.ts"

export const cli = root.pipe(
  Command.withSubcommands([
    daemon,
    status,
    group,
    members,
    repos,
    file,
    sync,
    events,
    pair,
    api,
    backup,
    ui,
  ]),
)
