/** cgroup v1: one hierarchy per controller (or co-mounted group); files per cgroup-v1/*.rst. */
import { dirname } from 'node:path'
import type { Controller } from './detect.js'
import { CPU_PERIOD_US, cpuQuotaMicros, parseOomControl, parseSingleValue } from './formats.js'
import { exists, readPidsLimitHits, readQuietly, writeCgroupFile } from './io.js'
import { writeOrThrow } from './messages.js'
import type { CgroupLimits, CgroupUsage } from './types.js'

/**
 * Set up a freshly created v1 cgroup (the run parent, each sandbox cgroup and its leaf) before
 * anything joins it. memory.use_hierarchy=1 makes a cgroup's counters and limits cover its
 * children; kernels since 5.x always behave so and accept only 1. A failure is harmless (the
 * limits sit on the sandbox cgroup itself). A new cpuset cgroup has no CPUs and no memory nodes
 * (unless the parent has cgroup.clone_children), and nothing can join it: take the parent's.
 */
export function prepareV1Dir (dir: string, controllers: readonly Controller[], hierarchyControllers: readonly string[] = controllers): void {
  if (controllers.includes('memory')) {
    const path = `${dir}/memory.use_hierarchy`
    if (readQuietly(path)?.trim() === '0') {
      try {
        writeCgroupFile(path, '1')
      } catch {
        // EINVAL when the parent is not hierarchical and this cgroup is not empty: nothing to lose.
      }
    }
  }
  if (hierarchyControllers.includes('cpuset')) {
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if ((readQuietly(`${dir}/${file}`) ?? '').trim() !== '') continue
      writeOrThrow(`${dir}/${file}`, (readQuietly(`${dirname(dir)}/${file}`) ?? '').trim(), 'cpuset of the sandbox\'s cgroup')
    }
  }
}

/** Write the limits into a new, empty v1 cgroup: memory must be set before a process is charged to it. */
export function applyV1Limits (dir: string, controllers: readonly Controller[], limits: CgroupLimits): void {
  if (controllers.includes('memory') && limits.memoryBytes !== undefined) {
    const bytes = String(limits.memoryBytes)
    writeOrThrow(`${dir}/memory.limit_in_bytes`, bytes, 'memory limit', 'memory')
    // memsw = memory + swap: the same value forbids swapping beyond the limit (absent when the kernel
    // runs without swap accounting).
    if (exists(`${dir}/memory.memsw.limit_in_bytes`)) writeOrThrow(`${dir}/memory.memsw.limit_in_bytes`, bytes, 'memory+swap limit', 'memory')
  }
  if (controllers.includes('pids') && limits.pids !== undefined) {
    writeOrThrow(`${dir}/pids.max`, String(limits.pids), 'pids limit', 'pids')
  }
  if (controllers.includes('cpu') && limits.cpus !== undefined) {
    const quota = cpuQuotaMicros(limits.cpus)
    if (quota === undefined) throw new RangeError(`cpus ${limits.cpus} is below the minimum`)
    writeOrThrow(`${dir}/cpu.cfs_period_us`, String(CPU_PERIOD_US), 'cpu period', 'cpu')
    writeOrThrow(`${dir}/cpu.cfs_quota_us`, String(quota), 'cpus limit', 'cpu')
  }
}

/** Counters of a v1 cgroup; unreadable files count as nothing. */
export function readV1Usage (dir: string, controllers: readonly Controller[]): Partial<CgroupUsage> {
  const usage: Partial<CgroupUsage> = {}
  if (controllers.includes('memory')) {
    const oom = readQuietly(`${dir}/memory.oom_control`)
    // `oom_kill` exists since kernel 4.13; older kernels cannot tell.
    if (oom !== undefined) usage.oomKills = parseOomControl(oom).oomKill ?? 0
    const peak = parseSingleValue(readQuietly(`${dir}/memory.max_usage_in_bytes`) ?? '')
    if (typeof peak === 'number') usage.memoryPeakBytes = peak
  }
  if (controllers.includes('pids')) {
    const hits = readPidsLimitHits(dir)
    if (hits !== undefined) usage.pidsLimitHits = hits
  }
  return usage
}
