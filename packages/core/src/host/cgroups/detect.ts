/**
 * Which cgroup hierarchies this host has, where this process sits in them, and where a sandbox's
 * cgroups can go (delegation). Reads /proc/self/mountinfo and /proc/self/cgroup.
 *
 * Environment variables:
 * - NS_SANDBOX_CGROUP_PARENT: a cgroup path (relative to each hierarchy's root, e.g. `/ns-sandbox-ci`)
 *   that must exist and be writable; when set, sandboxes go there instead of under this process's cgroup.
 * - NS_SANDBOX_CGROUP_MOVE_SELF=1: on v2, when this process's cgroup still holds processes (the
 *   "no internal processes" rule keeps controllers from being enabled for its children), move those
 *   processes into a leaf `ns-sandbox-<uid>-host-<pid>` first.
 * - NS_SANDBOX_CGROUP_ROOT (tests and debugging only): use only the hierarchy mounted at this directory
 *   (e.g. `/sys/fs/cgroup/unified`), ignoring every other cgroup mount.
 */
import { readFileSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { SandboxError } from '../../errors.js'
import { parseCgroupMounts, parseControllerList, parseHostLeafName, parseProcCgroup } from './formats.js'
import type { CgroupMount } from './formats.js'
import { readQuietly, writableError } from './io.js'

export type Controller = 'memory' | 'pids' | 'cpu'
export const CONTROLLERS: readonly Controller[] = ['memory', 'pids', 'cpu']

export interface Hierarchy {
  version: 1 | 2
  mountPoint: string
  /** The cgroup that is the mount's root (`/` unless a sub-cgroup was bind-mounted). */
  root: string
  /** v1: the controllers bound to the hierarchy. v2: the root's cgroup.controllers (what can be enabled at all). */
  controllers: string[]
  /** This process's cgroup in the hierarchy (from /proc/self/cgroup), if listed. */
  ownPath: string | undefined
}

export interface CgroupHost {
  uid: number
  pid: number
  hierarchies: Hierarchy[]
  /** NS_SANDBOX_CGROUP_PARENT, normalized to start with `/`. */
  parentOverride: string | undefined
  /** NS_SANDBOX_CGROUP_ROOT. */
  rootOverride: string | undefined
  /** NS_SANDBOX_CGROUP_MOVE_SELF=1. */
  moveSelf: boolean
}

export interface HostInputs {
  mountinfo: string
  procCgroup: string
  uid: number
  pid: number
  env: Record<string, string | undefined>
  /** Reads `<mountPoint>/cgroup.controllers` of a cgroup2 mount (undefined when unreadable). */
  readV2Controllers: (mountPoint: string) => string[] | undefined
}

function trimSlash (path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path
}

function mountPreference (mount: CgroupMount): number {
  return (mount.root === '/' ? 0 : 2) + (mount.mountPoint.startsWith('/sys/fs/cgroup') ? 0 : 1)
}

/** Pure: the host's hierarchies from the texts of mountinfo and /proc/self/cgroup. Throws SandboxError. */
export function buildCgroupHost (inputs: HostInputs): CgroupHost {
  const entries = parseProcCgroup(inputs.procCgroup)
  // The same hierarchy may be mounted several times: keep the best mount of each (same device).
  const byDevice = new Map<string, CgroupMount>()
  for (const mount of parseCgroupMounts(inputs.mountinfo)) {
    const key = `${mount.version}:${mount.device}`
    const known = byDevice.get(key)
    if (known === undefined || mountPreference(mount) < mountPreference(known)) byDevice.set(key, mount)
  }
  let mounts = [...byDevice.values()]
  const rootOverride = inputs.env.NS_SANDBOX_CGROUP_ROOT === undefined || inputs.env.NS_SANDBOX_CGROUP_ROOT === ''
    ? undefined
    : trimSlash(inputs.env.NS_SANDBOX_CGROUP_ROOT)
  if (rootOverride !== undefined) {
    mounts = mounts.filter((mount) => mount.mountPoint === rootOverride)
    if (mounts.length === 0) {
      throw new SandboxError('NSB_CGROUP_UNAVAILABLE',
        `NS_SANDBOX_CGROUP_ROOT=${rootOverride} is not a cgroup mount point (see /proc/self/mountinfo). ` +
        'Fix: unset NS_SANDBOX_CGROUP_ROOT (it is meant for tests) or point it at a mounted cgroup or cgroup2 filesystem.')
    }
  }
  const hierarchies: Hierarchy[] = mounts.map((mount) => {
    if (mount.version === 2) {
      return {
        version: 2,
        mountPoint: mount.mountPoint,
        root: mount.root,
        controllers: inputs.readV2Controllers(mount.mountPoint) ?? [],
        ownPath: entries.find((entry) => entry.hierarchyId === 0 && entry.controllers.length === 0)?.path
      }
    }
    const own = entries.find((entry) => entry.hierarchyId !== 0 && entry.controllers.some((name) => mount.controllers.includes(name)))
    return { version: 1, mountPoint: mount.mountPoint, root: mount.root, controllers: mount.controllers, ownPath: own?.path }
  })
  const parent = inputs.env.NS_SANDBOX_CGROUP_PARENT
  return {
    uid: inputs.uid,
    pid: inputs.pid,
    hierarchies,
    parentOverride: parent === undefined || parent === '' ? undefined : trimSlash(parent.startsWith('/') ? parent : `/${parent}`),
    rootOverride,
    moveSelf: inputs.env.NS_SANDBOX_CGROUP_MOVE_SELF === '1'
  }
}

/** The live host. Throws SandboxError NSB_CGROUP_UNAVAILABLE when /proc cannot be read. */
export function readCgroupHost (): CgroupHost {
  let mountinfo: string
  let procCgroup: string
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')
    procCgroup = readFileSync('/proc/self/cgroup', 'utf8')
  } catch (error) {
    throw new SandboxError('NSB_CGROUP_UNAVAILABLE',
      'cannot read /proc/self/mountinfo or /proc/self/cgroup, so the cgroup hierarchies are unknown. Fix: mount procfs at /proc.',
      { cause: error })
  }
  return buildCgroupHost({
    mountinfo,
    procCgroup,
    uid: process.getuid?.() ?? 0,
    pid: process.pid,
    env: process.env,
    readV2Controllers: (mountPoint) => {
      const text = readQuietly(`${mountPoint}/cgroup.controllers`)
      return text === undefined ? undefined : parseControllerList(text)
    }
  })
}

/** The directory of cgroup `path` in hierarchy `h`, or undefined when that cgroup is outside the mount. */
export function cgroupDir (h: Hierarchy, path: string): string | undefined {
  const clean = path.replace(/ \(deleted\)$/, '')
  if (!clean.startsWith('/')) return undefined
  let relative: string
  if (h.root === '/') relative = clean
  else if (clean === h.root) relative = '/'
  else if (clean.startsWith(`${h.root}/`)) relative = clean.slice(h.root.length)
  else return undefined
  return relative === '/' ? h.mountPoint : `${h.mountPoint}${trimSlash(relative)}`
}

/** Where controller `name` lives: a v1 hierarchy that has it mounted, else the cgroup2 hierarchy (if any). */
export function hierarchyFor (host: CgroupHost, name: Controller): Hierarchy | undefined {
  return host.hierarchies.find((h) => h.version === 1 && h.controllers.includes(name)) ??
    host.hierarchies.find((h) => h.version === 2)
}

export type ParentChoice =
  | { ok: true, dir: string, cgroupPath: string, source: 'own' | 'env' }
  | { ok: false, code: 'NSB_CGROUP_NOT_DELEGATED' | 'NSB_CGROUP_UNAVAILABLE', reason: string }

function commonAncestor (a: string, b: string): string {
  const left = a.split('/').filter(Boolean)
  const right = b.split('/').filter(Boolean)
  const common: string[] = []
  for (let i = 0; i < Math.min(left.length, right.length) && left[i] === right[i]; i++) common.push(left[i] as string)
  return `/${common.join('/')}`
}

function describeAccess (host: CgroupHost, path: string, errno: string): string {
  if (errno === 'EROFS') return `${path} is on a read-only mount`
  if (errno === 'ENOENT') return `${path} does not exist`
  return `${path} is not writable by uid ${host.uid} (${errno})`
}

/**
 * The directory a run's cgroup goes under in hierarchy `h`: NS_SANDBOX_CGROUP_PARENT when set, else
 * this process's own cgroup when this process may create children there (root; or delegated, i.e.
 * writable). `needsSubtreeControl`: v2 with controllers, which must be enabled in the parent.
 */
export function resolveParent (host: CgroupHost, h: Hierarchy, needsSubtreeControl: boolean): ParentChoice {
  const required = (dir: string): string[] => h.version === 2
    ? [dir, `${dir}/cgroup.procs`, ...(needsSubtreeControl ? [`${dir}/cgroup.subtree_control`] : [])]
    : [dir]
  const firstProblem = (paths: string[]): string | undefined => {
    for (const path of paths) {
      const errno = writableError(path)
      if (errno !== undefined) return describeAccess(host, path, errno)
    }
    return undefined
  }
  if (host.parentOverride !== undefined) {
    const dir = cgroupDir(h, host.parentOverride)
    if (dir === undefined) {
      return { ok: false, code: 'NSB_CGROUP_UNAVAILABLE', reason: `NS_SANDBOX_CGROUP_PARENT=${host.parentOverride} is outside the part of the hierarchy mounted at ${h.mountPoint} (mount root ${h.root})` }
    }
    const problem = firstProblem(required(dir))
    if (problem !== undefined) return { ok: false, code: 'NSB_CGROUP_NOT_DELEGATED', reason: `NS_SANDBOX_CGROUP_PARENT=${host.parentOverride}: ${problem}` }
    if (h.version === 2 && h.ownPath !== undefined) {
      // v2 moves a process only when the writer may write cgroup.procs of the common ancestor of its
      // current cgroup and the target (cgroup-v2.rst, "Delegation Containment").
      const ancestorDir = cgroupDir(h, commonAncestor(h.ownPath, host.parentOverride))
      const errno = ancestorDir === undefined ? 'EACCES' : writableError(`${ancestorDir}/cgroup.procs`)
      if (errno !== undefined) {
        return {
          ok: false,
          code: 'NSB_CGROUP_NOT_DELEGATED',
          reason: `NS_SANDBOX_CGROUP_PARENT=${host.parentOverride}: cgroup v2 only lets a process move between cgroups when it may write cgroup.procs of their common ancestor (${ancestorDir ?? 'outside the mount'}), and uid ${host.uid} may not (this process is in ${h.ownPath})`
        }
      }
    }
    return { ok: true, dir, cgroupPath: host.parentOverride, source: 'env' }
  }
  if (h.ownPath === undefined) {
    return { ok: false, code: 'NSB_CGROUP_UNAVAILABLE', reason: `/proc/self/cgroup has no line for the hierarchy mounted at ${h.mountPoint}` }
  }
  let ownPath = h.ownPath.replace(/ \(deleted\)$/, '')
  // After NS_SANDBOX_CGROUP_MOVE_SELF this process sits in a leaf of its original cgroup: use the original.
  const leaf = parseHostLeafName(basename(ownPath))
  if (leaf !== undefined && leaf.uid === host.uid) ownPath = dirname(ownPath)
  const dir = cgroupDir(h, ownPath)
  if (dir === undefined) {
    return { ok: false, code: 'NSB_CGROUP_UNAVAILABLE', reason: `this process's cgroup ${ownPath} is not visible under ${h.mountPoint} (mount root ${h.root}); a cgroup namespace or a partial bind mount hides it` }
  }
  const problem = firstProblem(required(dir))
  if (problem !== undefined) {
    return { ok: false, code: problem.includes('read-only') ? 'NSB_CGROUP_UNAVAILABLE' : 'NSB_CGROUP_NOT_DELEGATED', reason: `this process's cgroup ${ownPath}: ${problem}` }
  }
  return { ok: true, dir, cgroupPath: ownPath, source: 'own' }
}

/** The controllers that can be enabled for children of a v2 cgroup directory. */
export function availableV2Controllers (dir: string): string[] {
  const text = readQuietly(`${dir}/cgroup.controllers`)
  return text === undefined ? [] : parseControllerList(text)
}

/** 1 when any of memory/pids/cpu is a v1 hierarchy here, 2 when there is a cgroup2 mount, else 'none'. */
export function hostVersion (host: CgroupHost): 1 | 2 | 'none' {
  if (CONTROLLERS.some((name) => hierarchyFor(host, name)?.version === 1)) return 1
  return host.hierarchies.some((h) => h.version === 2) ? 2 : 'none'
}

/** Human lines for `ns-sandbox doctor`. */
/** Marks the lines of describeHost about a controller that cannot be used. */
export const UNUSABLE = 'cannot be used:'

export function describeHost (host: CgroupHost): string[] {
  const lines: string[] = []
  const version = hostVersion(host)
  const v2 = host.hierarchies.find((h) => h.version === 2)
  const v1 = host.hierarchies.filter((h) => h.version === 1)
  if (version === 'none') {
    lines.push('cgroups: none mounted (no cgroup or cgroup2 filesystem in /proc/self/mountinfo); memory, pids and cpu limits are unavailable')
    return lines
  }
  if (version === 1) {
    lines.push(`cgroups: v1${v2 === undefined ? '' : ` (hybrid: cgroup2 also mounted at ${v2.mountPoint}, controllers: ${v2.controllers.join(' ') || 'none'})`}`)
  } else {
    lines.push(`cgroups: v2 at ${v2?.mountPoint ?? '?'}${v1.length > 0 ? ' (v1 hierarchies mounted too, none for memory/pids/cpu)' : ''}`)
  }
  if (host.rootOverride !== undefined) lines.push(`NS_SANDBOX_CGROUP_ROOT=${host.rootOverride}: only that hierarchy is used`)
  if (host.parentOverride !== undefined) lines.push(`NS_SANDBOX_CGROUP_PARENT=${host.parentOverride}`)
  for (const name of CONTROLLERS) {
    const h = hierarchyFor(host, name)
    if (h === undefined) {
      lines.push(`${name}: ${UNUSABLE} no hierarchy has it mounted`)
      continue
    }
    const where = h.version === 1 ? `v1 hierarchy at ${h.mountPoint}` : `v2 at ${h.mountPoint}`
    const parent = resolveParent(host, h, h.version === 2)
    if (!parent.ok) {
      lines.push(`${name}: ${where}; ${UNUSABLE} ${parent.reason}`)
      continue
    }
    if (h.version === 2 && !availableV2Controllers(parent.dir).includes(name)) {
      lines.push(`${name}: ${where}; ${UNUSABLE} not in ${parent.dir}/cgroup.controllers (not enabled or not delegated to this cgroup)`)
      continue
    }
    let note = ''
    if (h.version === 2 && !parseControllerList(readQuietly(`${parent.dir}/cgroup.subtree_control`) ?? '').includes(name) &&
      (readQuietly(`${parent.dir}/cgroup.procs`) ?? '').trim() !== '' && parent.dir !== h.mountPoint) {
      note = host.moveSelf
        ? '; it holds processes, which will be moved into a leaf (NS_SANDBOX_CGROUP_MOVE_SELF=1)'
        : '; it holds processes, so the controller cannot be enabled for its children (no internal processes rule): set NS_SANDBOX_CGROUP_MOVE_SELF=1'
    }
    lines.push(`${name}: ${where}; sandboxes go under ${parent.dir} (${parent.source === 'env' ? 'NS_SANDBOX_CGROUP_PARENT' : "this process's cgroup"})${note}`)
  }
  return lines
}
