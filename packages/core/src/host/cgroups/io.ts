/** Small synchronous file helpers for cgroupfs (kernfs files are tiny and never block). */
import { accessSync, closeSync, constants, openSync, readFileSync, readdirSync, writeSync } from 'node:fs'
import { parsePidList, parsePidsEvents, parseProcStatState } from './formats.js'

export function errnoOf (error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code
  return undefined
}

/** The file's text, or undefined when it does not exist. Other errors are thrown. */
export function readIfExists (path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw error
  }
}

/** The file's text, or undefined on any error (for counters read after the fact). */
export function readQuietly (path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/**
 * One write(2) of `value` to an existing cgroup file. Not writeFileSync: that opens with O_CREAT|O_TRUNC
 * and needs no read permission only by accident; cgroup files like cgroup.kill are write-only.
 */
export function writeCgroupFile (path: string, value: string): void {
  const fd = openSync(path, constants.O_WRONLY)
  try {
    writeSync(fd, value)
  } finally {
    closeSync(fd)
  }
}

export function exists (path: string): boolean {
  try {
    accessSync(path, constants.F_OK)
    return true
  } catch {
    return false
  }
}

/** access(2) W_OK: for root only a read-only mount fails. Returns the errno on failure. */
export function writableError (path: string): string | undefined {
  try {
    accessSync(path, constants.W_OK)
    return undefined
  } catch (error) {
    return errnoOf(error) ?? 'EACCES'
  }
}

export function subdirectories (dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name)
  } catch {
    return []
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4))

export function sleepSync (ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms)
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Pids in a cgroup.procs file that are not zombies (a zombie waits for its parent, not for us). */
export function livePids (procsFile: string): number[] {
  const text = readQuietly(procsFile)
  if (text === undefined) return []
  return parsePidList(text).filter((pid) => {
    const stat = readQuietly(`/proc/${pid}/stat`)
    return stat !== undefined && parseProcStatState(stat) !== 'Z'
  })
}

/**
 * SIGKILL every live process listed in the cgroup.procs files, again until none is left (a process
 * may fork between the read and the kill). Bounded: gives up after `rounds` rounds.
 * Returns the pids still alive at the end (empty when done).
 */
export function killListed (procsFiles: readonly string[], rounds = 100): number[] {
  let remaining: number[] = []
  for (let round = 0; round < rounds; round++) {
    remaining = procsFiles.flatMap(livePids)
    if (remaining.length === 0) return []
    for (const pid of new Set(remaining)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // ESRCH: it exited meanwhile.
      }
    }
    sleepSync(round < 10 ? 2 : 10)
  }
  return procsFiles.flatMap(livePids)
}

/** kill(pid, 0): alive (or alive but not ours). */
export function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errnoOf(error) === 'EPERM'
  }
}

/** How often the pids limit refused a fork (`pids.events` `max`, the same file in v1 and v2). */
export function readPidsLimitHits (dir: string): number | undefined {
  const events = readQuietly(`${dir}/pids.events`)
  return events === undefined ? undefined : parsePidsEvents(events)
}
