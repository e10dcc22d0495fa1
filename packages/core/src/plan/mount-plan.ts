/**
 * The mount plan: what the sandbox's filesystem will be, as a list of steps computed
 * from the options and a snapshot of the host (mountinfo, a few directory listings).
 * Pure: no I/O here, so it can be printed (`ns-sandbox run --dry-run`) and unit-tested.
 *
 * Host view: a tmpfs root; each top-level host directory overlaid on its own
 * (overlaying `/` fails in a user namespace, its submounts are locked), recursing into
 * directories that hold mount points; fresh /proc, /dev, /tmp, /run, /var/tmp; /sys
 * read-only; then keep-paths, /etc/hosts naming the hostname, binds, live (writable)
 * paths and masks.
 */
import path from 'node:path'
import { isSameOrBelow, type MountInfoEntry } from './mountinfo.js'

export type EntryKind = 'dir' | 'file' | 'symlink' | 'other'

export interface HostEntry { name: string, kind: EntryKind, linkTarget?: string }

export type MountStep =
  /** size: bytes (`size=`); every tmpfs of the sandbox has one, or it could fill half the host's RAM. */
  | { op: 'tmpfs', target: string, mode: string, size: number, readonly?: boolean }
  /** mode: chmod after creating (umask-proof), for directories bound as fresh areas. */
  | { op: 'mkdir', path: string, mode?: string }
  | { op: 'file', path: string }
  | { op: 'symlink', path: string, linkTarget: string }
  | { op: 'overlay', target: string, lower: string, upper: string, work: string }
  | { op: 'bind', source: string, target: string, readonly: boolean }
  | { op: 'proc', target: string }
  | { op: 'devpts', target: string }
  /** fresh: a new sysfs, showing this network namespace's interfaces; else the host's, bound read-only. */
  | { op: 'sysfs', target: string, fresh: boolean }

/**
 * A path as the caller sees it. `unreachable`: a directory on the way denies the caller
 * (EACCES), so the sandbox, with the caller's uid and no capability over the host's
 * files, cannot reach it either.
 */
export type PathKind = 'dir' | 'file' | 'missing' | 'unreachable'

export interface PlanInput {
  /** Host directories known to be empty (checked by the host just before planning). */
  emptyDirs?: readonly string[]
  /** Host directory where the new root is assembled (a mount point for a tmpfs or the rootfs overlay). */
  rootDir: string
  /**
   * Directory for overlay upper/work layers: `<layersDir>/upper/<id>`, `<layersDir>/work/<id>`.
   * A tmpfs of the sandbox's own is mounted on it unless a report will read the layers.
   */
  layersDir: string
  /** Lower layer for a root filesystem from an archive; undefined for the host view. */
  rootfsDir?: string
  /** Host read-only instead of copy-on-write. */
  readonly: boolean
  /** The size of each tmpfs the sandbox can write to. */
  tmpfsSizeBytes: number
  mounts: readonly MountInfoEntry[]
  /** Entries of `/` and of every directory the planner recurses into; null when unreadable. */
  listings: Readonly<Record<string, readonly HostEntry[] | null>>
  /** What each bind/writable/mask/keep path is on the host. */
  pathKinds: Readonly<Record<string, PathKind>>
  binds: ReadonlyArray<{ source: string, target: string, readonly: boolean }>
  writable: readonly string[]
  mask: readonly string[]
  /** Paths the sandboxed process needs to see (cwd, its entry module, the node binary). */
  keep: readonly string[]
  /** Host paths never to overlay (they contain the layers themselves); they appear empty. */
  exclude: readonly string[]
  /** Device nodes bind-mounted from the host's /dev. */
  devices: readonly string[]
  /** The sandbox has its own network namespace, so it may mount a sysfs of its own. */
  ownNetwork: boolean
  /**
   * The sandbox's /etc/hosts: `file`, written by the host in scratch (the entries of the
   * tree the sandbox sees, plus its hostname), bound over `existing`, what /etc/hosts is
   * in that tree (never followed: a symlink there is left alone).
   */
  hosts?: { file: string, existing: 'file' | 'missing' | 'other' }
  /**
   * For the side-effect report: /tmp, /run, /var/tmp and /dev/shm become binds of empty
   * directories `<freshDir>/<layerId>` (read by the host afterwards) instead of tmpfs mounts.
   */
  freshDir?: string
}

/** A mask is an empty read-only tmpfs: one page. */
const MASK_SIZE = 4096

/** Top-level host directories replaced by fresh filesystems. */
const REPLACED = new Set(['/proc', '/sys', '/dev', '/tmp', '/run'])
/** Fresh tmpfs areas: whatever a test writes here is gone with the sandbox. */
const TMPFS_AREAS = ['/tmp', '/run', '/var/tmp', '/dev/shm']
const AREA_MODES: Readonly<Record<string, string>> = { '/tmp': '1777', '/run': '0755', '/var/tmp': '1777', '/dev/shm': '1777' }

/** The fresh areas and the layer-like ids of their directories under `freshDir`. */
export const FRESH_AREAS: readonly string[] = TMPFS_AREAS

export class PlanError extends Error {}

/** Overlay layer id for a host path: `/usr/lib` -> `usr%2Flib`, reversible for the side-effect report. */
export function layerId (hostPath: string): string {
  return hostPath === '/' ? '%2F' : encodeURIComponent(hostPath.slice(1))
}

export function hostPathOfLayer (id: string): string {
  return '/' + decodeURIComponent(id).replace(/^\//, '')
}

export function buildMountPlan (input: PlanInput): MountStep[] {
  const steps: MountStep[] = []
  const at = (hostPath: string): string => path.join(input.rootDir, hostPath)
  const mountPoints = input.mounts.map((m) => m.mountPoint)
    .filter((point) => ![...REPLACED].some((area) => isSameOrBelow(point, area)))
  const hasSubmounts = (dir: string): boolean =>
    [...mountPoints, ...input.exclude].some((point) => point !== dir && isSameOrBelow(point, dir))

  const overlay = (hostPath: string, target = at(hostPath), id = layerId(hostPath)): MountStep => ({
    op: 'overlay',
    target,
    lower: hostPath,
    upper: path.join(input.layersDir, 'upper', id),
    work: path.join(input.layersDir, 'work', id)
  })

  const freshArea = (area: string): MountStep[] => {
    const mode = AREA_MODES[area] ?? '0755'
    if (input.freshDir === undefined) return [{ op: 'mkdir', path: at(area) }, { op: 'tmpfs', target: at(area), mode, size: input.tmpfsSizeBytes }]
    const source = path.join(input.freshDir, layerId(area))
    return [{ op: 'mkdir', path: source, mode }, { op: 'mkdir', path: at(area) }, { op: 'bind', source, target: at(area), readonly: false }]
  }

  const viewOf = (hostPath: string): MountStep => input.readonly
    ? { op: 'bind', source: hostPath, target: at(hostPath), readonly: true }
    : overlay(hostPath)

  const placeDirectory = (hostPath: string): void => {
    if (input.exclude.some((excluded) => excluded === hostPath)) {
      steps.push({ op: 'mkdir', path: at(hostPath) })
      return
    }
    if (!hasSubmounts(hostPath)) {
      // An empty directory needs no overlay: a plain directory in the tmpfs root is the
      // same empty, writable, throw-away view, and saves a mount (~0.4 ms) per sandbox.
      const empty = !input.readonly && input.emptyDirs?.includes(hostPath) === true
      steps.push({ op: 'mkdir', path: at(hostPath) }, ...(empty ? [] : [viewOf(hostPath)]))
      return
    }
    steps.push({ op: 'mkdir', path: at(hostPath) })
    const listing = input.listings[hostPath]
    const entries: readonly HostEntry[] = listing ?? childrenLeadingTo(hostPath, [...mountPoints, ...input.exclude])
    for (const entry of entries) placeEntry(path.join(hostPath, entry.name), entry)
  }

  const placeEntry = (hostPath: string, entry: HostEntry): void => {
    if (entry.kind === 'symlink') {
      steps.push({ op: 'symlink', path: at(hostPath), linkTarget: entry.linkTarget ?? '' })
    } else if (entry.kind === 'dir') {
      placeDirectory(hostPath)
    } else {
      // A file beside a mount point cannot be overlaid on its own: it is seen read-only.
      steps.push({ op: 'file', path: at(hostPath) }, { op: 'bind', source: hostPath, target: at(hostPath), readonly: true })
    }
  }

  // 1. The root.
  if (input.rootfsDir === undefined) {
    steps.push({ op: 'tmpfs', target: input.rootDir, mode: '0755', size: input.tmpfsSizeBytes })
    const top = input.listings['/']
    if (top == null) throw new PlanError('the host root directory could not be listed')
    for (const entry of top) {
      const hostPath = '/' + entry.name
      if (REPLACED.has(hostPath)) continue
      placeEntry(hostPath, entry)
    }
  } else if (input.readonly) {
    steps.push({ op: 'bind', source: input.rootfsDir, target: input.rootDir, readonly: true })
  } else {
    steps.push(overlay(input.rootfsDir, input.rootDir, 'rootfs'))
  }

  // 2. Fresh kernel and scratch filesystems.
  steps.push({ op: 'mkdir', path: at('/proc') }, { op: 'proc', target: at('/proc') })
  steps.push({ op: 'mkdir', path: at('/dev') }, { op: 'tmpfs', target: at('/dev'), mode: '0755', size: input.tmpfsSizeBytes })
  for (const device of input.devices) {
    steps.push({ op: 'file', path: at(device) }, { op: 'bind', source: device, target: at(device), readonly: false })
  }
  steps.push(
    { op: 'mkdir', path: at('/dev/pts') }, { op: 'devpts', target: at('/dev/pts') },
    { op: 'symlink', path: at('/dev/ptmx'), linkTarget: 'pts/ptmx' },
    ...freshArea('/dev/shm'),
    { op: 'symlink', path: at('/dev/fd'), linkTarget: '/proc/self/fd' },
    { op: 'symlink', path: at('/dev/stdin'), linkTarget: '/proc/self/fd/0' },
    { op: 'symlink', path: at('/dev/stdout'), linkTarget: '/proc/self/fd/1' },
    { op: 'symlink', path: at('/dev/stderr'), linkTarget: '/proc/self/fd/2' }
  )
  steps.push({ op: 'mkdir', path: at('/sys') }, { op: 'sysfs', target: at('/sys'), fresh: input.ownNetwork })
  steps.push(...freshArea('/tmp'), ...freshArea('/run'))
  const hasVar = input.rootfsDir !== undefined || (input.listings['/'] ?? []).some((e) => e.name === 'var' && e.kind === 'dir')
  if (hasVar) steps.push(...freshArea('/var/tmp'))

  // 3. Paths the process must see that the steps above hid (under a fresh tmpfs, or
  //    absent from a root filesystem): copy-on-write (read-only in readonly mode).
  const keep = outermost(input.keep.filter((p) => input.pathKinds[p] !== 'missing' && input.pathKinds[p] !== 'unreachable'))
  const hiddenByFreshFs = (hostPath: string): boolean => !TMPFS_AREAS.includes(hostPath) &&
    (input.rootfsDir !== undefined || TMPFS_AREAS.some((area) => isSameOrBelow(hostPath, area)))
  const broughtBack: string[] = []
  for (const hostPath of keep) {
    // A tmpfs area itself (cwd = /tmp) stays fresh; what lies below one is brought back.
    if (!hiddenByFreshFs(hostPath) || hostPath === '/') continue
    if (input.exclude.some((excluded) => isSameOrBelow(excluded, hostPath) || isSameOrBelow(hostPath, excluded))) continue
    broughtBack.push(hostPath)
    if (input.pathKinds[hostPath] === 'file') {
      steps.push({ op: 'file', path: at(hostPath) }, { op: 'bind', source: hostPath, target: at(hostPath), readonly: true })
    } else {
      steps.push({ op: 'mkdir', path: at(hostPath) }, viewOf(hostPath))
    }
  }
  const visible = (hostPath: string): boolean => !hiddenByFreshFs(hostPath) ||
    [...broughtBack, ...input.writable, ...input.binds.map((b) => b.target)].some((shown) => isSameOrBelow(hostPath, shown))

  // 4. Its hostname resolves: the generated hosts file, a writable copy that dies with the
  //    sandbox (read-only in readonly mode, where no mount point can be created either).
  //    Before the declared binds, so a bind of /etc or /etc/hosts still wins.
  if (input.hosts !== undefined) {
    const target = at('/etc/hosts')
    const { file, existing } = input.hosts
    if (existing === 'file' || (existing === 'missing' && !input.readonly)) {
      steps.push({ op: 'file', path: target }, { op: 'bind', source: file, target, readonly: input.readonly })
    }
  }

  // 5. Declared binds and live paths.
  for (const bind of input.binds) {
    steps.push(mountPointFor(bind.source, at(bind.target), input.pathKinds[bind.source], 'bind'))
    steps.push({ op: 'bind', source: bind.source, target: at(bind.target), readonly: bind.readonly })
  }
  for (const hostPath of input.writable) {
    steps.push(mountPointFor(hostPath, at(hostPath), input.pathKinds[hostPath], 'writable'))
    steps.push({ op: 'bind', source: hostPath, target: at(hostPath), readonly: false })
  }

  // 6. Masks last, so no bind can uncover a credential.
  for (const hostPath of input.mask) {
    if (!visible(hostPath)) continue // already hidden by a fresh filesystem
    // Missing or unreachable: nothing the sandbox could read there.
    const kind = input.pathKinds[hostPath]
    if (kind === 'dir') steps.push({ op: 'tmpfs', target: at(hostPath), mode: '0000', size: MASK_SIZE, readonly: true })
    else if (kind === 'file') steps.push({ op: 'bind', source: '/dev/null', target: at(hostPath), readonly: true })
  }
  return [...privateLayers(input, steps), ...steps]
}

/**
 * Without a report nobody reads the layers after the sandbox: they go on a tmpfs of the
 * sandbox's own, which the kernel frees with its mount namespace (the host removes an
 * empty directory instead of a tree, and a killed runner leaves no layer data behind).
 * The overlays hold their upper layers, so the tmpfs outlives the old root's detach.
 */
function privateLayers (input: PlanInput, steps: readonly MountStep[]): MountStep[] {
  if (input.freshDir !== undefined || !steps.some((step) => step.op === 'overlay')) return []
  return [{ op: 'mkdir', path: input.layersDir, mode: '0700' }, { op: 'tmpfs', target: input.layersDir, mode: '0700', size: input.tmpfsSizeBytes }]
}

function mountPointFor (source: string, target: string, kind: PathKind | undefined, option: string): MountStep {
  if (kind === 'dir') return { op: 'mkdir', path: target }
  if (kind === 'file') return { op: 'file', path: target }
  if (kind === 'unreachable') throw new PlanError(`option \`${option}\`: ${source} is not accessible to you on the host (permission denied on the way)`)
  throw new PlanError(`option \`${option}\`: ${source} does not exist on the host`)
}

/** Drop paths that lie below another path of the list. */
function outermost (paths: readonly string[]): string[] {
  const unique = [...new Set(paths)].sort()
  return unique.filter((p) => !unique.some((other) => other !== p && isSameOrBelow(p, other)))
}

/** For an unreadable directory: just the children that lead to mount points below it. */
function childrenLeadingTo (dir: string, points: readonly string[]): HostEntry[] {
  const names = new Set<string>()
  for (const point of points) {
    if (point === dir || !isSameOrBelow(point, dir)) continue
    const rest = point.slice(dir === '/' ? 1 : dir.length + 1)
    names.add(rest.split('/')[0] ?? '')
  }
  return [...names].filter((n) => n !== '').map((name) => ({ name, kind: 'dir' }))
}

/** Directories the planner will recurse into, so the host can list them beforehand. */
export function directoriesToList (input: Pick<PlanInput, 'mounts' | 'exclude'>): string[] {
  const dirs = new Set<string>(['/'])
  const points = [...input.mounts.map((m) => m.mountPoint), ...input.exclude]
    .filter((point) => ![...REPLACED].some((area) => isSameOrBelow(point, area)))
  for (const point of points) {
    let parent = path.dirname(point)
    while (parent !== '/') {
      dirs.add(parent)
      parent = path.dirname(parent)
    }
  }
  return [...dirs].sort()
}
