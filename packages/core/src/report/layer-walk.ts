/**
 * Reads one copy-on-write layer after the sandbox ended: an overlay upper directory
 * against its lower (the host), or a fresh area's directory (everything in it is new).
 * A whiteout (char device 0:0) is a deletion; an opaque directory was replaced; an entry
 * whose path exists below was modified, else created. Directories overlayfs only copied
 * up to reach a changed file (same mode and owner as below) are not changes themselves.
 */
import fs from 'node:fs/promises'
import type { Stats } from 'node:fs'
import path from 'node:path'
import type { ChangeKind, EntryType } from './types.js'

export interface Layer {
  /** The directory holding the changes. */
  dir: string
  /** Where the sandbox saw that directory. */
  sandboxPath: string
  /** The original below the changes (overlay lower); none for a fresh area. */
  lowerDir?: string
}

export interface WalkRules {
  /** Mount points: their directory in the layer is only a mount point, left out with everything below. */
  isMountPoint: (sandboxPath: string) => boolean
  /** Directories the mount plan made (parents of mount points): not changes, their other entries are. */
  isPlanned: (sandboxPath: string) => boolean
  isOpaque: (dir: string) => boolean
}

export interface RawChange { path: string, kind: ChangeKind, type: EntryType, entries?: number }

export function entryType (stat: Stats): EntryType {
  if (stat.isFile()) return 'file'
  if (stat.isDirectory()) return 'dir'
  if (stat.isSymbolicLink()) return 'symlink'
  return 'other'
}

function isWhiteout (stat: Stats): boolean {
  return stat.isCharacterDevice() && stat.rdev === 0
}

function sameMetadata (a: Stats, b: Stats): boolean {
  return (a.mode & 0o7777) === (b.mode & 0o7777) && a.uid === b.uid && a.gid === b.gid
}

async function lstatOrUndefined (target: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(target)
  } catch {
    return undefined
  }
}

async function readEntries (dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort()
  } catch {
    return [] // unreadable (a mode 000 directory made inside): reported without its content
  }
}

/** Entries below a created directory, counted instead of listed. */
async function countEntries (dir: string, sandboxPath: string, rules: WalkRules): Promise<number> {
  let count = 0
  for (const name of await readEntries(dir)) {
    const inside = path.posix.join(sandboxPath, name)
    if (rules.isMountPoint(inside)) continue
    count++
    const stat = await lstatOrUndefined(path.join(dir, name))
    if (stat?.isDirectory() === true) count += await countEntries(path.join(dir, name), inside, rules)
  }
  return count
}

async function walkDirectory (dir: string, sandboxPath: string, lowerDir: string | undefined, rules: WalkRules, out: RawChange[]): Promise<void> {
  for (const name of await readEntries(dir)) {
    const inside = path.posix.join(sandboxPath, name)
    if (rules.isMountPoint(inside)) continue
    const upper = path.join(dir, name)
    const stat = await lstatOrUndefined(upper)
    if (stat === undefined) continue
    const lower = lowerDir === undefined ? undefined : path.join(lowerDir, name)
    const below = lower === undefined ? undefined : await lstatOrUndefined(lower)
    const lowerIfDir = below?.isDirectory() === true ? lower : undefined
    if (isWhiteout(stat)) {
      if (below !== undefined) out.push({ path: inside, kind: 'deleted', type: entryType(below) })
    } else if (!stat.isDirectory()) {
      out.push({ path: inside, kind: below === undefined ? 'created' : below.isDirectory() ? 'replaced' : 'modified', type: entryType(stat) })
    } else if (rules.isPlanned(inside)) {
      await walkDirectory(upper, inside, lowerIfDir, rules, out)
    } else if (below === undefined) {
      out.push({ path: inside, kind: 'created', type: 'dir', entries: await countEntries(upper, inside, rules) })
    } else if (lowerIfDir === undefined) {
      out.push({ path: inside, kind: 'replaced', type: 'dir', entries: await countEntries(upper, inside, rules) })
    } else {
      if (rules.isOpaque(upper)) out.push({ path: inside, kind: 'replaced', type: 'dir' })
      else if (!sameMetadata(stat, below)) out.push({ path: inside, kind: 'modified', type: 'dir' })
      await walkDirectory(upper, inside, lowerIfDir, rules, out)
    }
  }
}

/** Every change recorded in one layer, in path order. */
export async function walkLayer (layer: Layer, rules: WalkRules): Promise<RawChange[]> {
  const out: RawChange[] = []
  await walkDirectory(layer.dir, layer.sandboxPath, layer.lowerDir, rules, out)
  return out
}
