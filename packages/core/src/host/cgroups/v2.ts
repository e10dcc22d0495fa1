/** cgroup v2: one unified hierarchy; files per Documentation/admin-guide/cgroup-v2.rst. */
import { mkdirSync } from 'node:fs'
import { SandboxError } from '../../errors.js'
import { availableV2Controllers } from './detect.js'
import type { CgroupHost, Controller } from './detect.js'
import { formatCpuMax, hostLeafName, parseControllerList, parseMemoryEvents, parsePidList, parseSingleValue } from './formats.js'
import { errnoOf, exists, readPidsLimitHits, readQuietly, writeCgroupFile } from './io.js'
import { controllerMissing, writeError, writeOrThrow } from './messages.js'
import type { CgroupLimits, CgroupUsage } from './types.js'

/**
 * Move every process of cgroup `dir` into its leaf `ns-sandbox-<uid>-host-<pid>` so `dir` may enable
 * controllers for its children. Returns the leaf. Only with NS_SANDBOX_CGROUP_MOVE_SELF=1.
 */
export function moveProcessesIntoLeaf (host: CgroupHost, dir: string): string {
  const leaf = `${dir}/${hostLeafName(host.uid, host.pid)}`
  try {
    mkdirSync(leaf)
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') {
      throw new SandboxError('NSB_CGROUP_NOT_DELEGATED', `NS_SANDBOX_CGROUP_MOVE_SELF: cannot create ${leaf}: ${errnoOf(error) ?? String(error)}.`, { cause: error })
    }
  }
  // This process first, then whatever else is (or appears) there; bounded against a busy forker.
  const first = [host.pid]
  for (let round = 0; round < 20; round++) {
    const pids = round === 0 ? first : parsePidList(readQuietly(`${dir}/cgroup.procs`) ?? '')
    if (pids.length === 0) break
    for (const pid of pids) {
      try {
        writeCgroupFile(`${leaf}/cgroup.procs`, String(pid))
      } catch (error) {
        const errno = errnoOf(error)
        if (errno === 'ESRCH') continue
        throw new SandboxError('NSB_CGROUP_NOT_DELEGATED',
          `NS_SANDBOX_CGROUP_MOVE_SELF: cannot move pid ${pid} from ${dir} into ${leaf}: ${errno ?? String(error)}. ` +
          'Fix: run ns-sandbox alone in a delegated scope (`systemd-run --user --scope -p Delegate=yes -- <cmd>`).',
          { cause: error })
      }
    }
  }
  return leaf
}

/**
 * Make `controllers` available to the children of `dir` by adding them to its cgroup.subtree_control.
 * `isOwnCgroup`: `dir` is this process's cgroup, which may be emptied into a leaf (NS_SANDBOX_CGROUP_MOVE_SELF=1).
 */
export function enableV2Controllers (host: CgroupHost, dir: string, controllers: readonly Controller[], isOwnCgroup: boolean): void {
  if (controllers.length === 0) return
  const available = availableV2Controllers(dir)
  for (const name of controllers) {
    if (!available.includes(name)) throw controllerMissing(name, `it is not in ${dir}/cgroup.controllers (the controllers enabled for that cgroup: ${available.join(' ') || 'none'})`)
  }
  const enabled = parseControllerList(readQuietly(`${dir}/cgroup.subtree_control`) ?? '')
  let moved = false
  for (const name of controllers) {
    if (enabled.includes(name)) continue
    for (;;) {
      try {
        writeCgroupFile(`${dir}/cgroup.subtree_control`, `+${name}`)
        break
      } catch (error) {
        if (errnoOf(error) !== 'EBUSY') {
          throw writeError(`${dir}/cgroup.subtree_control`, `+${name}`, `enable ${name} for child cgroups`, name, error)
        }
        if (isOwnCgroup && host.moveSelf && !moved) {
          moveProcessesIntoLeaf(host, dir)
          moved = true
          continue
        }
        const pids = parsePidList(readQuietly(`${dir}/cgroup.procs`) ?? '')
        throw new SandboxError('NSB_CGROUP_NOT_DELEGATED',
          `cannot enable the ${name} controller for the child cgroups of ${dir}: EBUSY. ` +
          `It still holds processes (${pids.slice(0, 10).join(', ') || 'none listed'}${pids.length > 10 ? ', ...' : ''}), and cgroup v2 does not let a cgroup with processes in it ` +
          'hand controllers to its children (the "no internal processes" rule). ' +
          (isOwnCgroup
            ? `Fix: set NS_SANDBOX_CGROUP_MOVE_SELF=1 so ns-sandbox first moves the processes of its own cgroup into a leaf ${hostLeafName(host.uid, host.pid)} (for example \`NS_SANDBOX_CGROUP_MOVE_SELF=1 systemd-run --user --scope -p Delegate=yes -- <cmd>\`), or set NS_SANDBOX_CGROUP_PARENT to an empty cgroup you own.`
            : 'Fix: point NS_SANDBOX_CGROUP_PARENT at a cgroup without processes of its own.'),
          { cause: error })
      }
    }
  }
}

/** Write the limits into a new, empty v2 cgroup. */
export function applyV2Limits (dir: string, controllers: readonly Controller[], limits: CgroupLimits): void {
  if (controllers.includes('memory') && limits.memoryBytes !== undefined) {
    writeOrThrow(`${dir}/memory.max`, String(limits.memoryBytes), 'memory limit', 'memory')
    // No swap at all; absent when the kernel runs without swap accounting.
    if (exists(`${dir}/memory.swap.max`)) writeOrThrow(`${dir}/memory.swap.max`, '0', 'no swap beyond the memory limit', 'memory')
  }
  if (controllers.includes('pids') && limits.pids !== undefined) {
    writeOrThrow(`${dir}/pids.max`, String(limits.pids), 'pids limit', 'pids')
  }
  if (controllers.includes('cpu') && limits.cpus !== undefined) {
    writeOrThrow(`${dir}/cpu.max`, formatCpuMax(limits.cpus), 'cpus limit', 'cpu')
  }
}

/** Counters of a v2 cgroup; unreadable files count as nothing. */
export function readV2Usage (dir: string, controllers: readonly Controller[]): Partial<CgroupUsage> {
  const usage: Partial<CgroupUsage> = {}
  if (controllers.includes('memory')) {
    const events = readQuietly(`${dir}/memory.events`)
    if (events !== undefined) usage.oomKills = parseMemoryEvents(events).oomKill
    // memory.peak exists since kernel 5.19.
    const peak = parseSingleValue(readQuietly(`${dir}/memory.peak`) ?? '')
    if (typeof peak === 'number') usage.memoryPeakBytes = peak
  }
  if (controllers.includes('pids')) {
    const hits = readPidsLimitHits(dir)
    if (hits !== undefined) usage.pidsLimitHits = hits
  }
  return usage
}

/** SIGKILL the whole cgroup through cgroup.kill (kernel >= 5.14). False when it is absent or failed. */
export function killV2 (dir: string): boolean {
  try {
    writeCgroupFile(`${dir}/cgroup.kill`, '1')
    return true
  } catch {
    return false
  }
}
