/** Reads the host facts the pure mount planner works from. */
import fs from 'node:fs'
import path from 'node:path'
import { parseMountInfo } from '../plan/mountinfo.js'
import { directoriesToList, type EntryKind, type HostEntry, type PathKind, type PlanInput } from '../plan/mount-plan.js'
import type { ResolvedOptions } from '../options/schema.js'
import { DirectoryFacts } from './dir-facts.js'

const DEVICES = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']

function kindOf (dirent: fs.Dirent): EntryKind {
  if (dirent.isSymbolicLink()) return 'symlink'
  if (dirent.isDirectory()) return 'dir'
  if (dirent.isFile()) return 'file'
  return 'other'
}

function listDirectory (dir: string): HostEntry[] | null {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).map((dirent) => {
      const kind = kindOf(dirent)
      const entry: HostEntry = { name: dirent.name, kind }
      if (kind === 'symlink') entry.linkTarget = fs.readlinkSync(path.join(dir, dirent.name))
      return entry
    }).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  } catch {
    return null
  }
}

function isEmptyDirectory (dir: string): boolean {
  try {
    const handle = fs.opendirSync(dir)
    try {
      return handle.readSync() === null
    } finally {
      handle.closeSync()
    }
  } catch {
    return false // unreadable: let the overlay decide what the sandbox may see
  }
}

const listings = new DirectoryFacts(listDirectory)
const emptiness = new DirectoryFacts(isEmptyDirectory)

function pathKind (hostPath: string): PathKind {
  // Most masked credentials do not exist: no exception per missing path (~0.1 ms each).
  let stat: fs.Stats | undefined
  try {
    stat = fs.statSync(hostPath, { throwIfNoEntry: false })
  } catch (error) {
    // A HOME the caller may not enter (sudo -u keeping root's HOME): its credentials too.
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EACCES') return 'unreachable'
    if (code === 'ENOTDIR' || code === 'ELOOP') return 'missing'
    throw error
  }
  if (stat === undefined) return 'missing'
  return stat.isDirectory() ? 'dir' : 'file'
}

export interface PlanContext {
  rootDir: string
  layersDir: string
  rootfsDir: string | undefined
  keep: string[]
  exclude: string[]
  /** The generated /etc/hosts, written in the sandbox's scratch (host/hosts-file.ts). */
  hosts: PlanInput['hosts']
}

export function gatherPlanInput (options: ResolvedOptions, context: PlanContext): PlanInput {
  const mounts = parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'))
  const hostListings: Record<string, HostEntry[] | null> = {}
  if (context.rootfsDir === undefined) {
    for (const dir of directoriesToList({ mounts, exclude: context.exclude })) hostListings[dir] = listings.get(dir)
  }
  const emptyDirs = context.rootfsDir !== undefined
    ? []
    : (hostListings['/'] ?? []).filter((entry) => entry.kind === 'dir').map((entry) => '/' + entry.name).filter((dir) => emptiness.get(dir))
  const pathKinds: Record<string, PathKind> = {}
  for (const p of [...options.binds.map((b) => b.source), ...options.writable, ...options.mask, ...context.keep]) {
    pathKinds[p] ??= pathKind(p)
  }
  return {
    rootDir: context.rootDir,
    layersDir: context.layersDir,
    emptyDirs,
    rootfsDir: context.rootfsDir,
    readonly: options.readonly,
    tmpfsSizeBytes: options.tmpfsSizeBytes,
    mounts,
    listings: hostListings,
    pathKinds,
    binds: options.binds,
    writable: options.writable,
    mask: options.mask,
    keep: context.keep,
    exclude: context.exclude,
    devices: DEVICES.filter((device) => fs.existsSync(device)),
    ownNetwork: options.network !== 'host',
    hosts: context.hosts
  }
}
