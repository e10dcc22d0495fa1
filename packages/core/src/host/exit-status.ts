/**
 * From what the launcher saw (unshare's exit, the bootstrap's status lines, the cgroup's
 * counters, the timer) to what the caller is told. Pure.
 */
import os from 'node:os'
import { formatByteSize } from '../options/units.js'
import type { CgroupUsage } from './cgroups/index.js'

export type KillReason = 'oom' | 'pids' | 'timeout'

export interface ExitObservation {
  /** unshare's exit: the init's status, or the signal that ended unshare itself. */
  code: number | null
  signal: NodeJS.Signals | null
  /** How the command (PID 2) ended, as its init saw it (waitpid): exact, unlike unshare's 128+N. */
  commandExit: { code: number | null, signal: number | null } | undefined
  timedOut: boolean
  timeoutMs: number | undefined
  usage: CgroupUsage | undefined
  memoryBytes: number | undefined
  pids: number | undefined
}

export interface ExitOutcome {
  code: number | null
  signal: NodeJS.Signals | null
  reason?: KillReason
  /** Why the kernel or the timer intervened, e.g. `memory limit 512 MiB exceeded (OOM kill)`. */
  message?: string
}

export function signalName (number: number): NodeJS.Signals | null {
  const entry = Object.entries(os.constants.signals).find(([, value]) => value === number)
  return entry === undefined ? null : entry[0] as NodeJS.Signals
}

export function decodeExit (seen: ExitObservation): ExitOutcome {
  let code: number | null = seen.code
  let signal: NodeJS.Signals | null = seen.signal
  if (seen.commandExit !== undefined) {
    // The init's waitpid status: exit(137) and SIGKILL are told apart.
    const number = seen.commandExit.signal
    signal = number === null ? null : signalName(number)
    // A signal without a name here (real-time ones) keeps the shell's form.
    code = number === null ? seen.commandExit.code : signal === null ? 128 + number : null
  } else if (code !== null && code > 128 && code < 128 + 65) {
    // unshare exits 128+N when its child, the init, was killed by signal N.
    signal = signalName(code - 128)
    if (signal !== null) code = null
  }

  const outcome: ExitOutcome = { code, signal }
  if (seen.timedOut) {
    outcome.reason = 'timeout'
    outcome.message = `timeout of ${formatDuration(seen.timeoutMs ?? 0)} exceeded: sandbox killed`
  } else if ((seen.usage?.oomKills ?? 0) > 0) {
    outcome.reason = 'oom'
    outcome.message = `memory limit ${seen.memoryBytes === undefined ? '' : formatByteSize(seen.memoryBytes) + ' '}exceeded (OOM kill)`
  } else if ((seen.usage?.pidsLimitHits ?? 0) > 0) {
    outcome.reason = 'pids'
    outcome.message = `pids limit ${seen.pids ?? ''} reached: ${seen.usage?.pidsLimitHits ?? 0} fork/clone calls refused`
  }
  return outcome
}

function formatDuration (ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}
