/**
 * A run is one runner process. Its id, `<pid>-<starttime>`, names its scratch directory
 * and cgroups, so the next run can tell leftovers of dead runs from live ones even when
 * a pid has been reused.
 */
import fs from 'node:fs'

function startTimeOf (pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22 (starttime); fields after the command name, which may contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

let current: string | undefined

export function currentRunId (): string {
  current ??= `${process.pid}-${startTimeOf(process.pid) ?? Date.now()}`
  return current
}

export function isRunAlive (runId: string): boolean {
  const match = /^(\d+)-(\d+)$/.exec(runId)
  if (match === null) return false
  return startTimeOf(Number(match[1])) === match[2]
}
