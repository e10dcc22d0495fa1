/** Listing, naming, committing, removing and pruning rootfs cache entries. */
import fs from 'node:fs/promises'
import path from 'node:path'
import { SandboxError } from '../errors.js'
import {
  NAMES_DIR, TEMP_PREFIX, createTempDir, digestOfEntryDir, entryDir, readName, readNames,
  readStoredEntry, resolveCacheDir, tempOwner, toRootfsEntry
} from './cache-layout.js'
import { parseDigest } from './digest.js'
import { removeTree } from '../fs-util/remove-tree.js'
import type { RootfsEntry } from './types.js'

/** Temp directories of live processes older than this are abandoned all the same. */
const STALE_TEMP_MS = 24 * 60 * 60 * 1000

function errorCode (error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code
}

async function readDirNames (dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir)
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return []
    throw error
  }
}

export async function readEntry (cacheDir: string, digest: string): Promise<RootfsEntry | undefined> {
  const stored = await readStoredEntry(cacheDir, digest)
  return stored === undefined ? undefined : toRootfsEntry(cacheDir, stored, await readNames(cacheDir))
}

export async function listRootfs (cacheDir?: string): Promise<RootfsEntry[]> {
  const dir = resolveCacheDir(cacheDir)
  const names = await readNames(dir)
  const entries: RootfsEntry[] = []
  for (const name of await readDirNames(dir)) {
    const digest = digestOfEntryDir(name)
    if (digest === undefined) continue
    const stored = await readStoredEntry(dir, digest)
    if (stored !== undefined) entries.push(toRootfsEntry(dir, stored, names))
  }
  return entries.sort((a, b) => b.importedAt.localeCompare(a.importedAt) || a.digest.localeCompare(b.digest))
}

/**
 * Moves a complete temp directory into place as the entry for `digest`. Returns false when
 * another importer got there first (the temp directory is then removed).
 */
export async function commitEntry (cacheDir: string, temp: string, digest: string): Promise<boolean> {
  const target = entryDir(cacheDir, digest)
  try {
    await fs.rename(temp, target)
    return true
  } catch (error) {
    const code = errorCode(error)
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error
    await removeTree(temp)
    return false
  }
}

/** Removes an entry directory: renamed away first (atomic), then deleted. */
export async function discardEntry (cacheDir: string, digest: string): Promise<void> {
  const temp = await createTempDir(cacheDir)
  const moved = path.join(temp, 'entry')
  try {
    await fs.rename(entryDir(cacheDir, digest), moved)
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') {
      await removeTree(temp)
      throw error
    }
  }
  await removeTree(temp)
}

/** Digests of the entries in the cache (complete or not). */
async function entryDigests (cacheDir: string): Promise<string[]> {
  return (await readDirNames(cacheDir)).map(digestOfEntryDir).filter((digest): digest is string => digest !== undefined)
}

/**
 * `sha256:<hex>`, `sha256-<hex>`, `<hex>` or a unique prefix of at least 4 hex digits ->
 * the digest of an entry in the cache.
 */
export async function findDigest (cacheDir: string, value: string): Promise<string | undefined> {
  const text = value.replace(/^sha256[:-]/, '')
  if (!/^[0-9a-f]{4,64}$/.test(text)) return undefined
  const matches = (await entryDigests(cacheDir)).filter((digest) => digest.slice('sha256:'.length).startsWith(text))
  if (matches.length > 1) {
    throw new SandboxError('NSB_INVALID_OPTION',
      `the digest prefix ${value} matches ${matches.length} rootfs entries (${matches.map((digest) => digest.slice(0, 19)).join(', ')}); give more digits`)
  }
  return matches[0]
}

/**
 * Removes a name, or an entry by digest. Removing an entry's last name removes the entry;
 * removing by digest removes the entry and every name pointing at it.
 */
export async function removeRootfs (nameOrDigest: string, cacheDir?: string): Promise<void> {
  const dir = resolveCacheDir(cacheDir)
  const named = await readName(dir, nameOrDigest)
  if (named !== undefined) {
    await fs.rm(path.join(dir, NAMES_DIR, nameOrDigest), { force: true })
    const others = [...(await readNames(dir)).values()].filter((digest) => digest === named)
    if (others.length === 0) await discardEntry(dir, named)
    return
  }
  const digest = await findDigest(dir, nameOrDigest)
  if (digest === undefined) {
    throw new SandboxError('NSB_ROOTFS_NOT_FOUND',
      `no rootfs named or with digest ${JSON.stringify(nameOrDigest)} in ${dir}; \`ns-sandbox rootfs ls\` lists what is there`)
  }
  for (const [name, target] of await readNames(dir)) {
    if (target === digest) await fs.rm(path.join(dir, NAMES_DIR, name), { force: true })
  }
  await discardEntry(dir, digest)
}

function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errorCode(error) === 'EPERM'
  }
}

async function abandoned (file: string, name: string): Promise<boolean> {
  const pid = tempOwner(name)
  if (pid === undefined || pid === process.pid) return false
  if (!processAlive(pid)) return true
  try {
    return Date.now() - (await fs.lstat(file)).mtimeMs > STALE_TEMP_MS
  } catch {
    return false
  }
}

/**
 * Removes entries no name points to, incomplete entries, names pointing at nothing, and
 * temp directories left by dead importers. Returns what it removed: digests, `names/<name>`
 * and temp paths.
 */
export async function pruneRootfs (cacheDir?: string): Promise<string[]> {
  const dir = resolveCacheDir(cacheDir)
  const removed: string[] = []
  const names = await readNames(dir)
  const named = new Set(names.values())
  for (const digest of await entryDigests(dir)) {
    if (named.has(digest) && await readStoredEntry(dir, digest) !== undefined) continue
    await discardEntry(dir, digest)
    removed.push(digest)
  }
  for (const [name, digest] of names) {
    if (await readStoredEntry(dir, digest) !== undefined) continue
    await fs.rm(path.join(dir, NAMES_DIR, name), { force: true })
    removed.push(`${NAMES_DIR}/${name}`)
  }
  for (const [folder, prefix] of [[dir, ''], [path.join(dir, NAMES_DIR), `${NAMES_DIR}/`]] as const) {
    for (const name of await readDirNames(folder)) {
      if (!name.startsWith(TEMP_PREFIX)) continue
      const file = path.join(folder, name)
      if (!(await abandoned(file, name))) continue
      await removeTree(file)
      removed.push(`${prefix}${name}`)
    }
  }
  return removed
}

/** Whether `value` names a digest in the form users may type. */
export function looksLikeDigest (value: string): boolean {
  return parseDigest(value) !== undefined || /^(sha256[:-])?[0-9a-f]{4,64}$/.test(value)
}
