/**
 * Pure parsing and formatting of the cgroup files ns-sandbox reads and writes (facts from the
 * kernel's Documentation/admin-guide/cgroup-v1/*.rst and cgroup-v2.rst, proc(5)). No I/O here.
 */
import { unescapeMountField } from '../../plan/mountinfo.js'

/** The CFS period ns-sandbox uses on v1 (`cpu.cfs_period_us`) and v2 (`cpu.max`), in µs. */
export const CPU_PERIOD_US = 100_000
/** The kernel refuses a CFS quota below 1 ms. */
export const CPU_MIN_QUOTA_US = 1_000

/** One line of /proc/<pid>/cgroup: `hierarchy-ID:controller-list:cgroup-path`. */
export interface ProcCgroupEntry {
  hierarchyId: number
  /** v1: the controllers bound to that hierarchy (`cpu,cpuacct` -> two; `name=systemd` kept as is). v2: empty. */
  controllers: string[]
  /** The cgroup path relative to the hierarchy's root (as seen from this cgroup namespace). */
  path: string
}

/** Parse /proc/self/cgroup: v1 lines (`4:memory:/a`), named v1 (`9:name=systemd:/`), v2 (`0::/a`). */
export function parseProcCgroup (text: string): ProcCgroupEntry[] {
  const entries: ProcCgroupEntry[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    // The path may itself contain ':', so split on the first two only.
    const first = line.indexOf(':')
    const second = first < 0 ? -1 : line.indexOf(':', first + 1)
    if (first < 0 || second < 0) continue
    const hierarchyId = Number(line.slice(0, first))
    if (!Number.isInteger(hierarchyId)) continue
    const list = line.slice(first + 1, second)
    entries.push({
      hierarchyId,
      controllers: list === '' ? [] : list.split(','),
      path: line.slice(second + 1)
    })
  }
  return entries
}

/** A cgroup or cgroup2 filesystem from /proc/self/mountinfo. */
export interface CgroupMount {
  version: 1 | 2
  /** Where it is mounted, unescaped. */
  mountPoint: string
  /** Which cgroup of the hierarchy is the mount's root (not `/` for bind mounts of a sub-cgroup). */
  root: string
  /** v1: controllers from the super options (`name=systemd` kept as is). v2: empty (read cgroup.controllers). */
  controllers: string[]
  /** `major:minor`: mounts of the same hierarchy share it. */
  device: string
}

/** Every v1 controller the kernel knows; anything else in the super options is a mount option. */
const V1_CONTROLLERS = new Set([
  'cpuset', 'cpu', 'cpuacct', 'io', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'perf_event',
  'net_prio', 'hugetlb', 'pids', 'rdma', 'misc', 'debug'
])


/** The cgroup mounts among the lines of /proc/self/mountinfo (proc(5) format). */
export function parseCgroupMounts (mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = []
  for (const line of mountinfo.split('\n')) {
    const separator = line.indexOf(' - ')
    if (separator < 0) continue
    const left = line.slice(0, separator).split(' ')
    const right = line.slice(separator + 3).split(' ')
    const fsType = right[0]
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue
    if (left.length < 5) continue
    const superOptions = (right[2] ?? '').split(',')
    mounts.push({
      version: fsType === 'cgroup2' ? 2 : 1,
      mountPoint: unescapeMountField(left[4] ?? ''),
      root: unescapeMountField(left[3] ?? '/'),
      device: left[2] ?? '',
      controllers: fsType === 'cgroup2'
        ? []
        : superOptions.filter((option) => V1_CONTROLLERS.has(option) || option.startsWith('name='))
    })
  }
  return mounts
}

/** `cgroup.controllers` / `cgroup.subtree_control`: space-separated names, maybe empty. */
export function parseControllerList (text: string): string[] {
  return text.split(/\s+/).filter((word) => word !== '')
}

/**
 * Flat keyed files, `key value` per line: v2 `memory.events`, `pids.events`, `memory.stat`,
 * v1 `memory.oom_control`, `memory.stat`. Lines that are not `key <integer>` are ignored.
 */
export function parseFlatKeyed (text: string): Map<string, number> {
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = /^\s*(\S+)\s+(-?\d+)\s*$/.exec(line)
    if (match === null) continue
    values.set(match[1] as string, Number(match[2]))
  }
  return values
}

/** v2 `memory.events`. Absent keys are 0 (older kernels lack `oom_kill`/`oom_group_kill`). */
export interface MemoryEvents { low: number, high: number, max: number, oom: number, oomKill: number, oomGroupKill: number }

export function parseMemoryEvents (text: string): MemoryEvents {
  const values = parseFlatKeyed(text)
  return {
    low: values.get('low') ?? 0,
    high: values.get('high') ?? 0,
    max: values.get('max') ?? 0,
    oom: values.get('oom') ?? 0,
    oomKill: values.get('oom_kill') ?? 0,
    oomGroupKill: values.get('oom_group_kill') ?? 0
  }
}

/** `pids.events` (v1 and v2): `max N` counts forks refused by the limit. Absent -> 0. */
export function parsePidsEvents (text: string): number {
  return parseFlatKeyed(text).get('max') ?? 0
}

/** v1 `memory.oom_control`. `oomKill` is undefined before kernel 4.13, which lacks the line. */
export interface OomControl { oomKillDisable: boolean, underOom: boolean, oomKill: number | undefined }

export function parseOomControl (text: string): OomControl {
  const values = parseFlatKeyed(text)
  return {
    oomKillDisable: values.get('oom_kill_disable') === 1,
    underOom: values.get('under_oom') === 1,
    oomKill: values.get('oom_kill')
  }
}

/** Single-value files (`memory.peak`, `memory.max_usage_in_bytes`, `pids.max`, `memory.max`): a number or `max`. */
export function parseSingleValue (text: string): number | 'max' | undefined {
  const value = text.trim()
  if (value === 'max') return 'max'
  if (!/^\d+$/.test(value)) return undefined
  return Number(value)
}

/** CFS quota in µs for `cpus` cores over CPU_PERIOD_US; undefined when below the kernel's 1 ms minimum. */
export function cpuQuotaMicros (cpus: number): number | undefined {
  if (!Number.isFinite(cpus) || cpus <= 0) return undefined
  const quota = Math.round(cpus * CPU_PERIOD_US)
  return quota < CPU_MIN_QUOTA_US ? undefined : quota
}

/** v2 `cpu.max` content for `cpus` cores: `<quota> <period>`. Throws RangeError for unusable values. */
export function formatCpuMax (cpus: number): string {
  const quota = cpuQuotaMicros(cpus)
  if (quota === undefined) throw new RangeError(`cpus must be at least ${CPU_MIN_QUOTA_US / CPU_PERIOD_US}, got ${cpus}`)
  return `${quota} ${CPU_PERIOD_US}`
}

/** v2 `cpu.max` -> cores, or undefined for `max` (unlimited). */
export function parseCpuMax (text: string): { quota: number | 'max', period: number } | undefined {
  const match = /^\s*(max|\d+)(?:\s+(\d+))?\s*$/.exec(text)
  if (match === null) return undefined
  return { quota: match[1] === 'max' ? 'max' : Number(match[1]), period: match[2] === undefined ? CPU_PERIOD_US : Number(match[2]) }
}

/** `cgroup.procs`: one pid per line. */
export function parsePidList (text: string): number[] {
  return text.split('\n').map((line) => line.trim()).filter((line) => /^\d+$/.test(line)).map(Number)
}

/** The state letter from /proc/<pid>/stat (`R`, `S`, `Z`, ...); the comm field may hold spaces and ')'. */
export function parseProcStatState (text: string): string | undefined {
  const close = text.lastIndexOf(')')
  if (close < 0) return undefined
  return text.slice(close + 1).trim().split(' ')[0]
}

/** Directory names ns-sandbox creates. */
export function runDirName (uid: number, runId: string): string {
  return `ns-sandbox-${uid}-run-${runId}`
}

export function sandboxDirName (sandboxId: string): string {
  return `sb-${sandboxId}`
}

export function hostLeafName (uid: number, pid: number): string {
  return `ns-sandbox-${uid}-host-${pid}`
}

/** `ns-sandbox-<uid>-run-<runId>` -> its parts, or undefined. */
export function parseRunDirName (name: string): { uid: number, runId: string } | undefined {
  const match = /^ns-sandbox-(\d+)-run-(.+)$/.exec(name)
  if (match === null) return undefined
  return { uid: Number(match[1]), runId: match[2] as string }
}

/** `ns-sandbox-<uid>-host-<pid>` -> its parts, or undefined. */
export function parseHostLeafName (name: string): { uid: number, pid: number } | undefined {
  const match = /^ns-sandbox-(\d+)-host-(\d+)$/.exec(name)
  if (match === null) return undefined
  return { uid: Number(match[1]), pid: Number(match[2]) }
}

/** Run and sandbox ids become directory names: keep them to a safe alphabet. */
export function isSafeIdPart (value: string): boolean {
  return /^[A-Za-z0-9_.-]{1,128}$/.test(value) && value !== '.' && value !== '..'
}
