/**
 * One sandbox's cgroups: `<parent>/ns-sandbox-<uid>-run-<runId>/sb-<sandboxId>` in every hierarchy
 * where the caller may create cgroups (issue #16):
 *
 * - where a limit's controller lives, the limits sit on `sb-<id>` and the sandbox runs in its
 *   child `sb-<id>/leaf`. The init roots the sandbox's cgroup namespace at the leaf: a cgroupfs
 *   the sandbox mounts (with `root`, or in a user namespace of its own) shows the leaf as its
 *   root, so the files holding the limits, owned by the caller's uid like the sandbox, are out
 *   of its reach;
 * - every other hierarchy the caller can write gets a plain `sb-<id>`, so a cgroupfs mounted
 *   inside never shows (nor lets the sandbox create cgroups in) the host's own cgroups.
 *
 * Hierarchies the caller cannot write are left alone: the sandbox, with the caller's uid and no
 * capability over the host's files, cannot write them either.
 */
import { mkdirSync, rmdirSync } from 'node:fs'
import { SandboxError } from '../../errors.js'
import { hierarchyFor, readCgroupHost, resolveParent } from './detect.js'
import type { CgroupHost, Controller, Hierarchy, ParentChoice } from './detect.js'
import { CPU_MIN_QUOTA_US, CPU_PERIOD_US, cpuQuotaMicros, isSafeIdPart, runDirName, sandboxDirName } from './formats.js'
import { errnoOf, killListed, livePids, sleep, subdirectories } from './io.js'
import { LIMIT_NAMES, controllerMissing, delegationFixes } from './messages.js'
import { applyV1Limits, prepareV1Dir, readV1Usage } from './v1.js'
import { applyV2Limits, enableV2Controllers, killV2, readV2Usage } from './v2.js'
import type { CgroupLimits, CgroupUsage, SandboxCgroup } from './types.js'

export interface HierarchyPlan {
  h: Hierarchy
  /** The controllers used from this hierarchy (may be empty: a bare v2 cgroup, used by tests). */
  controllers: Controller[]
}

interface Part {
  version: 1 | 2
  controllers: Controller[]
  runDir: string
  dir: string
  /** Where the sandbox's processes go: `<dir>/leaf` when `dir` holds limits, else `dir`. */
  procsDir: string
}

/** The child of a limited sandbox cgroup that holds its processes (and roots its cgroup namespace). */
export const LEAF_NAME = 'leaf'

/** Run parents this process created or checked, with the controllers already set up for their children. */
const runDirs = new Map<string, Set<Controller>>()

/** The run directories in use by this process (the stale cleanup never touches them). */
export function activeRunDirs (): ReadonlySet<string> {
  return new Set(runDirs.keys())
}

/** Validate the limits; returns the controllers they need. Throws SandboxError NSB_INVALID_OPTION. */
export function neededControllers (limits: CgroupLimits): Controller[] {
  const needed: Controller[] = []
  const invalid = (what: string): SandboxError => new SandboxError('NSB_INVALID_OPTION', what)
  if (limits.memoryBytes !== undefined) {
    if (!Number.isSafeInteger(limits.memoryBytes) || limits.memoryBytes < 1) throw invalid(`memory limit must be a positive whole number of bytes, got ${limits.memoryBytes}`)
    needed.push('memory')
  }
  if (limits.pids !== undefined) {
    if (!Number.isSafeInteger(limits.pids) || limits.pids < 1) throw invalid(`pids limit must be a positive whole number, got ${limits.pids}`)
    needed.push('pids')
  }
  if (limits.cpus !== undefined) {
    if (cpuQuotaMicros(limits.cpus) === undefined) throw invalid(`cpus limit must be a number of cores of at least ${CPU_MIN_QUOTA_US / CPU_PERIOD_US}, got ${limits.cpus}`)
    needed.push('cpu')
  }
  return needed
}

/** Which hierarchy each needed controller comes from, grouped. Throws SandboxError. */
export function planHierarchies (host: CgroupHost, needed: readonly Controller[]): HierarchyPlan[] {
  const plans: HierarchyPlan[] = []
  for (const name of needed) {
    const h = hierarchyFor(host, name)
    if (h === undefined) {
      if (host.hierarchies.length === 0) {
        throw new SandboxError('NSB_CGROUP_UNAVAILABLE',
          `the ${LIMIT_NAMES[name]} needs cgroups, but no cgroup or cgroup2 filesystem is mounted (see /proc/self/mountinfo). ` +
          'Fix: `sudo mount -t cgroup2 none /sys/fs/cgroup` (in a container: run it with its cgroup mounted, e.g. docker --cgroupns=private), or drop the limit.')
      }
      throw controllerMissing(name, 'no cgroup v1 hierarchy has it mounted and there is no cgroup2 mount')
    }
    if (h.version === 2 && !h.controllers.includes(name)) {
      throw controllerMissing(name, `it is not in ${h.mountPoint}/cgroup.controllers (controllers there: ${h.controllers.join(' ') || 'none'}; a controller bound to a v1 hierarchy, or disabled on the kernel command line, is not offered by cgroup2)`)
    }
    const plan = plans.find((p) => p.h === h)
    if (plan === undefined) plans.push({ h, controllers: [name] })
    else plan.controllers.push(name)
  }
  return plans
}

function mkdirError (dir: string, error: unknown): SandboxError {
  const errno = errnoOf(error) ?? String(error)
  if (errno === 'EACCES' || errno === 'EPERM') {
    return new SandboxError('NSB_CGROUP_NOT_DELEGATED', `cannot create cgroup ${dir}: ${errno}, uid ${process.getuid?.() ?? '?'} may not create cgroups there. Fix: set NS_SANDBOX_CGROUP_PARENT to a cgroup you own (see \`ns-sandbox doctor\`).`, { cause: error })
  }
  return new SandboxError('NSB_CGROUP_UNAVAILABLE', `cannot create cgroup ${dir}: ${errno}.${errno === 'EAGAIN' ? ' cgroup.max.descendants or cgroup.max.depth of a parent is reached.' : ''} Fix: see \`ns-sandbox doctor\`.`, { cause: error })
}

/** mkdir; true when created, false when it existed. */
function makeDir (dir: string): boolean {
  try {
    mkdirSync(dir)
    return true
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false
    throw mkdirError(dir, error)
  }
}

function removeDirQuietly (dir: string): boolean {
  try {
    rmdirSync(dir)
    return true
  } catch (error) {
    return errnoOf(error) === 'ENOENT'
  }
}

/** Remove the run parent when no sandbox cgroup is left in it (another process of the run may still use it). */
function releaseRunDir (runDir: string): void {
  if (removeDirQuietly(runDir)) runDirs.delete(runDir)
}

/** Create (or reuse) the run parent under `parentDir` with `controllers` available to its children. */
function ensureRunDir (host: CgroupHost, plan: HierarchyPlan, parentDir: string, parentIsOwn: boolean, runId: string, created: string[]): string {
  const runDir = `${parentDir}/${runDirName(host.uid, runId)}`
  const known = runDirs.get(runDir)
  if (known !== undefined && plan.controllers.every((name) => known.has(name))) return runDir
  if (plan.h.version === 2) enableV2Controllers(host, parentDir, plan.controllers, parentIsOwn)
  if (makeDir(runDir)) created.push(runDir)
  if (plan.h.version === 2) enableV2Controllers(host, runDir, plan.controllers, false)
  else prepareV1Dir(runDir, plan.controllers, plan.h.controllers)
  runDirs.set(runDir, new Set([...(known ?? []), ...plan.controllers]))
  return runDir
}

/** Limits go where NS_SANDBOX_CGROUP_PARENT says; a hierarchy without limits falls back to this process's cgroup. */
function parentFor (host: CgroupHost, plan: HierarchyPlan): ParentChoice {
  const chosen = resolveParent(host, plan.h, plan.h.version === 2 && plan.controllers.length > 0)
  if (chosen.ok || plan.controllers.length > 0 || host.parentOverride === undefined) return chosen
  return resolveParent({ ...host, parentOverride: undefined }, plan.h, false)
}

/**
 * Create the sandbox's cgroups in the given hierarchies and apply the limits. Internal: tests call it
 * directly, e.g. with a bare v2 plan (no controllers) on a cgroup2 mount that has none.
 */
export function createInHierarchies (host: CgroupHost, runId: string, sandboxId: string, limits: CgroupLimits, plans: readonly HierarchyPlan[]): SandboxCgroup {
  for (const [what, value] of [['run id', runId], ['sandbox id', sandboxId]] as const) {
    if (!isSafeIdPart(value)) throw new SandboxError('NSB_INVALID_OPTION', `${what} ${JSON.stringify(value)} cannot name a cgroup: use letters, digits, '.', '_' and '-' only (at most 128).`)
  }
  // Where each hierarchy's cgroups go; report every hierarchy that cannot be used at once.
  const parents = plans.map((plan) => ({ plan, parent: parentFor(host, plan) }))
  const problems = parents.flatMap(({ plan, parent }) => parent.ok ? [] : [{ plan, parent }])
  if (problems.length > 0) {
    const notDelegated = problems.some(({ parent }) => parent.code === 'NSB_CGROUP_NOT_DELEGATED')
    const limitNames = plans.flatMap((plan) => plan.controllers.map((name) => LIMIT_NAMES[name])).join(', ')
    throw new SandboxError(notDelegated ? 'NSB_CGROUP_NOT_DELEGATED' : 'NSB_CGROUP_UNAVAILABLE',
      `cannot create cgroups for the ${limitNames || 'sandbox'}: ` +
      problems.map(({ plan, parent }) => `${plan.h.version === 1 ? `${plan.controllers.join(',')} (v1)` : 'cgroup v2'}: ${parent.ok ? '' : parent.reason}`).join('; ') + '.',
      {
        details: [
          ...(problems.some(({ parent }) => !parent.ok && parent.reason.includes('read-only'))
            ? ['The cgroup filesystem is mounted read-only (typical in a container): give the container a writable cgroup (e.g. `docker run --cgroupns=private` with a cgroup v2 host and a delegated cgroup, or `--privileged`).']
            : []),
          ...delegationFixes(problems.map(({ plan }) => plan.h), host.parentOverride)
        ]
      })
  }
  const parts: Part[] = []
  const createdRunDirs: string[] = []
  try {
    for (const { plan, parent } of parents) {
      if (!parent.ok) continue
      let runDir = ensureRunDir(host, plan, parent.dir, parent.source === 'own', runId, createdRunDirs)
      const dir = `${runDir}/${sandboxDirName(sandboxId)}`
      try {
        mkdirSync(dir)
      } catch (error) {
        if (errnoOf(error) === 'EEXIST') {
          throw new SandboxError('NSB_CGROUP_UNAVAILABLE', `cgroup ${dir} already exists: sandbox id ${sandboxId} was used twice in run ${runId}. Fix: give each sandbox of a run its own id.`)
        }
        if (errnoOf(error) !== 'ENOENT') throw mkdirError(dir, error)
        // The run parent was removed meanwhile (its last sandbox finished): set it up again.
        runDirs.delete(runDir)
        runDir = ensureRunDir(host, plan, parent.dir, parent.source === 'own', runId, createdRunDirs)
        try {
          mkdirSync(dir)
        } catch (again) {
          throw mkdirError(dir, again)
        }
      }
      const limited = plan.controllers.length > 0
      const procsDir = limited ? `${dir}/${LEAF_NAME}` : dir
      parts.push({ version: plan.h.version, controllers: plan.controllers, runDir, dir, procsDir })
      if (plan.h.version === 1) {
        prepareV1Dir(dir, plan.controllers, plan.h.controllers)
        applyV1Limits(dir, plan.controllers, limits)
      } else {
        applyV2Limits(dir, plan.controllers, limits)
      }
      if (limited) {
        try {
          mkdirSync(procsDir)
        } catch (error) {
          throw mkdirError(procsDir, error)
        }
        if (plan.h.version === 1) prepareV1Dir(procsDir, plan.controllers, plan.h.controllers)
      }
    }
  } catch (error) {
    for (const part of parts) {
      removeDirQuietly(part.procsDir)
      removeDirQuietly(part.dir)
    }
    for (const runDir of new Set([...parts.map((part) => part.runDir), ...createdRunDirs])) releaseRunDir(runDir)
    throw error
  }
  return new CgroupHandle(parts, limits)
}

const REMOVE_TIMEOUT_MS = 5000

class CgroupHandle implements SandboxCgroup {
  readonly procsFiles: string[]
  readonly limits: CgroupLimits
  readonly #parts: Part[]
  #finalUsage: CgroupUsage | undefined
  #removing: Promise<void> | undefined
  #removed = false

  constructor (parts: Part[], limits: CgroupLimits) {
    this.#parts = parts
    this.limits = { ...limits }
    this.procsFiles = parts.map((part) => `${part.procsDir}/cgroup.procs`)
  }

  readUsage (): CgroupUsage {
    if (this.#removed && this.#finalUsage !== undefined) return { ...this.#finalUsage }
    const usage: CgroupUsage = { oomKills: 0, pidsLimitHits: 0 }
    for (const part of this.#parts) {
      if (part.controllers.length === 0) continue
      // The limits' own counters; the leaf's too, for kernels that count an event only
      // where it happened (an OOM kill in the leaf, charged to the limit above it).
      const [read, leaf] = [part.dir, part.procsDir].map((dir) => part.version === 1 ? readV1Usage(dir, part.controllers) : readV2Usage(dir, part.controllers))
      usage.oomKills += Math.max(read?.oomKills ?? 0, leaf?.oomKills ?? 0)
      usage.pidsLimitHits += Math.max(read?.pidsLimitHits ?? 0, leaf?.pidsLimitHits ?? 0)
      if (read?.memoryPeakBytes !== undefined) usage.memoryPeakBytes = read.memoryPeakBytes
    }
    return usage
  }

  kill (): void {
    const fallback: string[] = []
    for (const part of this.#parts) {
      if (part.version === 2 && killV2(part.dir)) continue
      // The sandbox may have made cgroups of its own below its leaf.
      fallback.push(...cgroupsBelow(part.dir).map((dir) => `${dir}/cgroup.procs`))
    }
    if (fallback.length > 0) killListed(fallback)
  }

  remove (): Promise<void> {
    if (this.#removing === undefined) {
      this.#removing = this.#remove().catch((error: unknown) => {
        this.#removing = undefined
        throw error
      })
    }
    return this.#removing
  }

  async #remove (): Promise<void> {
    if (this.#removed) return
    this.kill()
    this.#finalUsage ??= this.readUsage()
    const deadline = Date.now() + REMOVE_TIMEOUT_MS
    // Deepest first: the leaf and whatever cgroups the sandbox made below it.
    for (const dir of this.#parts.flatMap((part) => cgroupsBelow(part.dir).reverse())) {
      for (let attempt = 0; ; attempt++) {
        try {
          rmdirSync(dir)
          break
        } catch (error) {
          const errno = errnoOf(error)
          if (errno === 'ENOENT') break
          if ((errno !== 'EBUSY' && errno !== 'ENOTEMPTY') || Date.now() > deadline) {
            const left = livePids(`${dir}/cgroup.procs`)
            throw new SandboxError('NSB_CGROUP_UNAVAILABLE',
              `cannot remove cgroup ${dir}: ${errno ?? String(error)}${left.length > 0 ? ` (pids still in it: ${left.join(', ')})` : ''}. ` +
              'Fix: none needed now; a later run removes it as stale once it is empty (`find /sys/fs/cgroup -name "ns-sandbox-*"` lists leftovers).',
              { cause: error })
          }
          // The kernel is still reaping (or something slipped in): kill again, then give it a moment.
          if (attempt % 5 === 4) this.kill()
          await sleep(Math.min(5 * (attempt + 1), 50))
        }
      }
    }
    this.#removed = true
    for (const runDir of new Set(this.#parts.map((part) => part.runDir))) releaseRunDir(runDir)
  }
}

/** A sandbox without limits: no cgroup at all. */
function noCgroup (limits: CgroupLimits): SandboxCgroup {
  return {
    procsFiles: [],
    limits: { ...limits },
    readUsage: () => ({ oomKills: 0, pidsLimitHits: 0 }),
    kill: () => {},
    remove: async () => {}
  }
}

/** `dir` and every cgroup below it, parents before children (bounded: the sandbox may nest its own). */
function cgroupsBelow (dir: string, depth = 0): string[] {
  if (depth > 32) return [dir]
  return [dir, ...subdirectories(dir).flatMap((name) => cgroupsBelow(`${dir}/${name}`, depth + 1))]
}

/**
 * The hierarchies no limit needs where the caller may create cgroups: NS_SANDBOX_CGROUP_PARENT
 * when it is usable there, else this process's own cgroup when it is writable. Where neither
 * is, the sandbox, with the caller's uid, cannot write the cgroups it would see either.
 * Only asked for where the sandbox could write a cgroup it mounts (`SandboxCgroupScope`).
 */
export function containmentPlans (host: CgroupHost, limited: readonly HierarchyPlan[]): HierarchyPlan[] {
  return host.hierarchies
    .filter((h) => !limited.some((plan) => plan.h === h))
    .filter((h) => parentFor(host, { h, controllers: [] }).ok)
    .map((h) => ({ h, controllers: [] }))
}

/**
 * `contain`: give the sandbox a cgroup of its own in every hierarchy the caller may write,
 * not only where a limit needs one. Needed when the sandbox could mount a cgroupfs and write
 * there: with `root` (the namespace's capabilities; as host root, over every cgroup), and for
 * a caller other than root (a user namespace of the sandbox's own maps that uid, which owns
 * its delegated cgroups). Not for root without `root`: a nested user namespace cannot map
 * uid 0 without CAP_SETFCAP, and an unmapped one may not mount cgroupfs (EPERM, measured);
 * joining a v1 hierarchy costs ~1-4 ms of every start here (DESIGN.md, cgroups).
 */
export function createSandboxCgroup (runId: string, sandboxId: string, limits: CgroupLimits, contain = false): SandboxCgroup {
  const needed = neededControllers(limits)
  if (needed.length === 0 && !contain) return noCgroup(limits)
  const host = readCgroupHost()
  const limited = needed.length === 0 ? [] : planHierarchies(host, needed)
  const plans = [...limited, ...(contain ? containmentPlans(host, limited) : [])]
  if (plans.length === 0) return noCgroup(limits)
  return createInHierarchies(host, runId, sandboxId, limits, plans)
}
