/**
 * Where the rootfs cache keeps things:
 *
 * ```
 * <cacheDir>/sha256-<hex>/rootfs/      the unpacked tree (an overlay lower layer)
 * <cacheDir>/sha256-<hex>/entry.json   { digest, sizeBytes, importedAt, source }
 * <cacheDir>/names/<name>              "sha256:<hex>\n"
 * <cacheDir>/.tmp-<pid>-<random>/      an import (or a removal) in progress
 * ```
 *
 * An entry directory appears only by an atomic rename of a complete temp directory, so a
 * reader sees a whole entry or none.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { SandboxError } from '../errors.js'
import { makeDirectories } from '../fs-util/make-directories.js'
import { parseDigest } from './digest.js'
import type { RootfsEntry } from './types.js'

export const NAMES_DIR = 'names'
export const ENTRY_FILE = 'entry.json'
export const ROOTFS_DIR = 'rootfs'
export const TEMP_PREFIX = '.tmp-'
const ENTRY_PREFIX = 'sha256-'
const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/
const MAX_NAME_LENGTH = 128

export function defaultRootfsCacheDir (): string {
  const xdg = process.env.XDG_CACHE_HOME
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache')
  return path.join(base, 'ns-sandbox', 'rootfs')
}

export function resolveCacheDir (cacheDir: string | undefined): string {
  return path.resolve(cacheDir ?? defaultRootfsCacheDir())
}

export function isValidName (name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name)
}

export function validateName (name: string): void {
  if (!isValidName(name)) {
    throw new SandboxError('NSB_INVALID_OPTION',
      `the rootfs name ${JSON.stringify(name)} is not valid: names are 1-${MAX_NAME_LENGTH} characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit (for example busybox-1.36)`)
  }
}

export function entryDir (cacheDir: string, digest: string): string {
  const parsed = parseDigest(digest)
  if (parsed?.algorithm !== 'sha256') throw new Error(`not a sha256 digest: ${digest}`)
  return path.join(cacheDir, `${ENTRY_PREFIX}${parsed.hex}`)
}

/** `sha256-<hex>` (an entry directory's name) -> `sha256:<hex>`, or undefined. */
export function digestOfEntryDir (name: string): string | undefined {
  if (!name.startsWith(ENTRY_PREFIX)) return undefined
  const digest = `sha256:${name.slice(ENTRY_PREFIX.length)}`
  return parseDigest(digest) === undefined ? undefined : digest
}

const storedEntrySchema = z.object({
  digest: z.string(),
  sizeBytes: z.number().nonnegative(),
  importedAt: z.string(),
  source: z.record(z.string(), z.unknown()).optional()
})
export type StoredEntry = z.infer<typeof storedEntrySchema>

export async function writeEntryFile (dir: string, entry: StoredEntry): Promise<void> {
  await fs.writeFile(path.join(dir, ENTRY_FILE), `${JSON.stringify(entry, null, 2)}\n`)
}

/** The stored entry for `digest`, or undefined when it is missing or incomplete. */
export async function readStoredEntry (cacheDir: string, digest: string): Promise<StoredEntry | undefined> {
  const dir = entryDir(cacheDir, digest)
  try {
    const parsed = storedEntrySchema.safeParse(JSON.parse(await fs.readFile(path.join(dir, ENTRY_FILE), 'utf8')))
    if (!parsed.success || parsed.data.digest !== digest) return undefined
    if (!(await fs.lstat(path.join(dir, ROOTFS_DIR))).isDirectory()) return undefined
    return parsed.data
  } catch {
    return undefined
  }
}

/** name -> digest for every name in the cache (unreadable name files are skipped). */
export async function readNames (cacheDir: string): Promise<Map<string, string>> {
  const names = new Map<string, string>()
  let files: string[]
  try {
    files = await fs.readdir(path.join(cacheDir, NAMES_DIR))
  } catch {
    return names
  }
  for (const name of files) {
    if (!isValidName(name)) continue
    const digest = await readName(cacheDir, name)
    if (digest !== undefined) names.set(name, digest)
  }
  return names
}

export async function readName (cacheDir: string, name: string): Promise<string | undefined> {
  if (!isValidName(name)) return undefined
  try {
    const digest = (await fs.readFile(path.join(cacheDir, NAMES_DIR, name), 'utf8')).trim()
    return parseDigest(digest)?.algorithm === 'sha256' ? digest : undefined
  } catch {
    return undefined
  }
}

/** Points `name` at `digest`, atomically (write a temp file, rename it over). */
export async function writeName (cacheDir: string, name: string, digest: string): Promise<void> {
  validateName(name)
  const dir = path.join(cacheDir, NAMES_DIR)
  makeDirectories(dir)
  const temp = path.join(dir, `${TEMP_PREFIX}${process.pid}-${Math.random().toString(36).slice(2)}`)
  await fs.writeFile(temp, `${digest}\n`)
  try {
    await fs.rename(temp, path.join(dir, name))
  } catch (error) {
    await fs.rm(temp, { force: true })
    throw error
  }
}

export function toRootfsEntry (cacheDir: string, stored: StoredEntry, names: Map<string, string>): RootfsEntry {
  return {
    digest: stored.digest,
    dir: path.join(entryDir(cacheDir, stored.digest), ROOTFS_DIR),
    names: [...names].filter(([, digest]) => digest === stored.digest).map(([name]) => name).sort(),
    sizeBytes: stored.sizeBytes,
    importedAt: stored.importedAt
  }
}

/** A fresh temp directory in the cache, named after this process so prune can tell if it is abandoned. */
export async function createTempDir (cacheDir: string): Promise<string> {
  makeDirectories(cacheDir)
  return await fs.mkdtemp(path.join(cacheDir, `${TEMP_PREFIX}${process.pid}-`))
}

/** The pid in a temp name, or undefined. */
export function tempOwner (name: string): number | undefined {
  const match = /^\.tmp-(\d+)-/.exec(name)
  return match === null ? undefined : Number(match[1])
}
