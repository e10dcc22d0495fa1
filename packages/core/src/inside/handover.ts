/** Hand the prepared process over to what it was started for. */
import { accessSync, constants, statSync } from 'node:fs'
import { join } from 'node:path'
import { SandboxError } from '../errors.js'
import { execve, setInheritable } from '../ffi/libc.js'
import type { Handover } from '../protocol.js'

function resolveCommand (command: string): string {
  if (command.includes('/')) return command
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (dir === '') continue
    const candidate = join(dir, command)
    try {
      accessSync(candidate, constants.X_OK)
      if (statSync(candidate).isFile()) return candidate
    } catch {
      // not here
    }
  }
  throw new SandboxError('NSB_SETUP_FAILED', `command not found in the sandbox: ${command} (PATH=${process.env.PATH ?? ''})`)
}

export function execCommand (handover: Extract<Handover, { kind: 'exec' }>): never {
  const file = resolveCommand(handover.command)
  for (const fd of [0, 1, 2]) {
    try {
      setInheritable(fd, true)
    } catch {
      // a closed standard fd stays closed
    }
  }
  // Node ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across execve
  // (`yes | head` would print "Broken pipe"). A handled one is reset to the default.
  for (const signal of ['SIGPIPE', 'SIGXFSZ'] as const) process.on(signal, () => {})
  const env = Object.entries(process.env).map(([key, value]) => `${key}=${value ?? ''}`)
  return execve(file, [handover.command, ...handover.args], env)
}

/**
 * Node's CommonJS Module class. The bootstrap always runs as a CommonJS main module (the
 * bundle), so its own module object is an instance; importing `node:module` instead would
 * also load the ESM loader and source-map support, ~2 ms of every start on Node 20.
 */
function moduleClass (): { runMain: (main: string) => void } {
  return module.constructor as unknown as { runMain: (main: string) => void }
}

/**
 * Loads the entry the way `node entry` does (Node's own main-module path): a CommonJS
 * entry is the main module (`require.main === module`, no ESM loader: ~10 ms less on
 * Node 20), an ES module goes through the ESM loader, errors and unsettled top-level
 * await end the process as they would outside.
 */
export function runNodeEntry (handover: Extract<Handover, { kind: 'node' }>): void {
  process.argv = [process.argv[0] ?? process.execPath, handover.entry, ...handover.args]
  moduleClass().runMain(handover.entry)
}
