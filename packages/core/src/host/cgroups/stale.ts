/**
 * Cleanup of cgroups left by runs that died without removing theirs (SIGKILL, crash, power loss of a
 * container): every `ns-sandbox-<uid>-run-<runId>` directory whose run is not alive, in every mounted
 * hierarchy, and `ns-sandbox-<uid>-host-<pid>` leaves (NS_SANDBOX_CGROUP_MOVE_SELF) of dead processes.
 */
import { rmdirSync } from 'node:fs'
import { readCgroupHost } from './detect.js'
import { parseHostLeafName, parseRunDirName } from './formats.js'
import { errnoOf, killListed, pidAlive, sleepSync, subdirectories, writeCgroupFile } from './io.js'
import { activeRunDirs } from './sandbox.js'

/** Bounds for the walk: cgroup trees are shallow, but a host may have thousands of cgroups. */
const MAX_DEPTH = 10
const MAX_DIRS = 50_000

/** SIGKILL whatever is in `dir` and below, then remove it bottom-up. True when gone. */
export function removeCgroupTree (dir: string, depth = 0): boolean {
  if (depth > MAX_DEPTH) return false
  for (const child of subdirectories(dir)) removeCgroupTree(`${dir}/${child}`, depth + 1)
  try {
    writeCgroupFile(`${dir}/cgroup.kill`, '1')
  } catch {
    // v1, or a kernel before 5.14: kill one by one.
  }
  killListed([`${dir}/cgroup.procs`], 20)
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      rmdirSync(dir)
      return true
    } catch (error) {
      const errno = errnoOf(error)
      if (errno === 'ENOENT') return true
      if (errno !== 'EBUSY' && errno !== 'ENOTEMPTY') return false
      sleepSync(25)
    }
  }
  return false
}

function removeDirIfEmpty (dir: string): boolean {
  try {
    rmdirSync(dir)
    return true
  } catch {
    return false
  }
}

function runIsAlive (isRunAlive: (runId: string) => boolean, runId: string): boolean {
  try {
    return isRunAlive(runId)
  } catch {
    return true // When in doubt, keep it.
  }
}

/**
 * Every `ns-sandbox-<uid>-run-<runId>` directory in every mounted hierarchy whose runId matches, and
 * (with `leaves`) every `ns-sandbox-<uid>-host-<pid>` leaf. Bounded walk; never throws.
 */
export function findNsSandboxCgroups (matchRun: (runId: string) => boolean, matchLeaf: (pid: number) => boolean = () => false): { runs: string[], leaves: string[] } {
  const runs: string[] = []
  const leaves: string[] = []
  try {
    const host = readCgroupHost()
    let visited = 0
    for (const h of host.hierarchies) {
      const queue: Array<{ dir: string, depth: number }> = [{ dir: h.mountPoint, depth: 0 }]
      while (queue.length > 0 && visited < MAX_DIRS) {
        const { dir, depth } = queue.shift() as { dir: string, depth: number }
        visited++
        for (const name of subdirectories(dir)) {
          const path = `${dir}/${name}`
          const run = parseRunDirName(name)
          if (run !== undefined) {
            if (matchRun(run.runId)) runs.push(path)
            continue
          }
          const leaf = parseHostLeafName(name)
          if (leaf !== undefined) {
            if (matchLeaf(leaf.pid)) leaves.push(path)
            continue
          }
          if (depth + 1 < MAX_DEPTH) queue.push({ dir: path, depth: depth + 1 })
        }
      }
    }
  } catch {
    // Best effort.
  }
  return { runs, leaves }
}

/**
 * Remove cgroups left by dead runs: run dirs whose runId's pid is not alive with that start time
 * (`isRunAlive` decides). Never throws; returns the directories removed.
 */
export function removeStaleCgroups (isRunAlive: (runId: string) => boolean): string[] {
  const removed: string[] = []
  try {
    const active = activeRunDirs()
    const { runs, leaves } = findNsSandboxCgroups(
      (runId) => !runIsAlive(isRunAlive, runId),
      (pid) => pid !== process.pid && !pidAlive(pid))
    for (const path of runs) {
      if (!active.has(path) && removeCgroupTree(path)) removed.push(path)
    }
    // Other processes may have been moved into a leaf with the dead one: never kill there, just try
    // rmdir, which the kernel refuses (EBUSY) while the leaf holds processes.
    for (const path of leaves) {
      if (removeDirIfEmpty(path)) removed.push(path)
    }
  } catch {
    // Never throws: stale cleanup is best effort.
  }
  return removed
}
