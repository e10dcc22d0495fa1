/**
 * Writes archive entries under one root directory without ever following a symlink:
 *
 * - every parent component of an entry must be a real directory (checked with lstat and
 *   remembered); a symlink there is refused with NSB_ROOTFS_UNSAFE, so nothing is written
 *   through a symlink, whatever it points at;
 * - the entry itself is created exclusively (O_CREAT|O_EXCL, mkdir, symlink, link); when
 *   something is already there (duplicate entries, a layer replacing a lower file) it is
 *   removed first, without following it, and the later entry wins, as with tar;
 * - directory modes and times are applied last, deepest first, through an
 *   O_DIRECTORY|O_NOFOLLOW handle, so read-only directories do not break extraction;
 * - small files (<= 1 MiB) are buffered and written by a few concurrent jobs, so the
 *   file system's latency overlaps with decompression; every other operation on a path
 *   first waits for the job writing that path, and removing a directory waits for all.
 */
import fs from 'node:fs/promises'
import { constants } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { SandboxError } from '../errors.js'
import { removeTree } from '../fs-util/remove-tree.js'

export interface EntryMeta {
  /** Permission bits (0o7777). */
  mode: number
  mtime?: Date
  uid: number
  gid: number
}

export interface TreeWriterOptions {
  /** Names the archive in error messages. */
  archive: string
  /** Apply uid/gid from the archive (lchown / fchown). */
  chown: boolean
  /** Called once if chown is refused (EPERM): ownership is then left to the caller. */
  onChownDenied?: () => void
}

const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW
const IMPLICIT_DIR_MODE = 0o755
/** Buffered file bytes per write call. */
const WRITE_BATCH = 1024 * 1024
/** Files up to this size are buffered and written concurrently. */
const SMALL_FILE = 1024 * 1024
const MAX_JOBS = 16
const MAX_JOB_BYTES = 32 * 1024 * 1024

function errorCode (error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code
}

async function lstatOrUndefined (target: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.lstat(target)
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined
    throw error
  }
}

async function writeAll (handle: FileHandle, chunks: Buffer[]): Promise<void> {
  let pending = chunks
  while (pending.length > 0) {
    const total = pending.reduce((sum, chunk) => sum + chunk.length, 0)
    const { bytesWritten } = pending.length === 1
      ? await handle.write(pending[0] as Buffer)
      : await handle.writev(pending)
    if (bytesWritten >= total) return
    // Short write (rare for regular files): continue with what is left.
    let skip = bytesWritten
    const rest: Buffer[] = []
    for (const chunk of pending) {
      if (skip >= chunk.length) {
        skip -= chunk.length
        continue
      }
      rest.push(skip > 0 ? chunk.subarray(skip) : chunk)
      skip = 0
    }
    pending = rest
  }
}

export class TreeWriter {
  readonly root: string
  private readonly archive: string
  private chown: boolean
  private readonly onChownDenied: (() => void) | undefined
  private readonly umask: number
  /** Relative paths ('' = root) known to be real directories, with all their ancestors. */
  private readonly dirs = new Set<string>([''])
  /** Directory modes and times to apply at the end. */
  private readonly dirMeta = new Map<string, EntryMeta>()
  /** Bytes of regular files written. */
  fileBytes = 0
  /** Small-file writes in flight, by relative path. */
  private readonly jobs = new Map<string, Promise<void>>()
  private jobBytes = 0
  private jobError: unknown
  private readonly uid = process.getuid?.() ?? -1
  private readonly gid = process.getgid?.() ?? -1

  private constructor (root: string, umask: number, options: TreeWriterOptions) {
    this.root = root
    this.umask = umask
    this.archive = options.archive
    this.chown = options.chown
    this.onChownDenied = options.onChownDenied
  }

  /** Creates `root` (which must not exist) and a writer for it. */
  static async create (root: string, options: TreeWriterOptions): Promise<TreeWriter> {
    await fs.mkdir(root, { mode: 0o777 })
    const umask = 0o777 & ~(await fs.lstat(root)).mode
    await fs.chmod(root, IMPLICIT_DIR_MODE)
    return new TreeWriter(root, umask, options)
  }

  private abs (key: string): string {
    return key === '' ? this.root : `${this.root}/${key}`
  }

  /**
   * Makes sure every parent of `parts` is a real directory, creating missing ones when
   * `create`; returns false when one is missing and `create` is false.
   */
  async ensureParents (parts: readonly string[], member: string, create: boolean): Promise<boolean> {
    if (parts.length <= 1) return true
    const parentKey = parts.slice(0, -1).join('/')
    if (this.dirs.has(parentKey)) return true
    let key = ''
    for (let index = 0; index < parts.length - 1; index++) {
      key = index === 0 ? parts[0] as string : `${key}/${parts[index] as string}`
      if (this.dirs.has(key)) continue
      await this.waitFor(key)
      const full = this.abs(key)
      const stat = await lstatOrUndefined(full)
      if (stat === undefined) {
        if (!create) return false
        await fs.mkdir(full, IMPLICIT_DIR_MODE)
        if ((IMPLICIT_DIR_MODE & ~this.umask) !== IMPLICIT_DIR_MODE && !this.dirMeta.has(key)) {
          this.dirMeta.set(key, { mode: IMPLICIT_DIR_MODE, uid: 0, gid: 0 })
        }
      } else if (stat.isSymbolicLink()) {
        throw new SandboxError('NSB_ROOTFS_UNSAFE',
          `${this.archive}: the member ${member} lies below ${key}, which is a symlink in the archive; writing through a symlink could change files outside the root filesystem, so the import is refused. Re-create the archive without entries below symlinked directories`)
      } else if (!stat.isDirectory()) {
        throw new SandboxError('NSB_ROOTFS_INVALID',
          `${this.archive}: the member ${member} lies below ${key}, which is not a directory in the archive; the archive is inconsistent: re-create it`)
      }
      this.dirs.add(key)
    }
    return true
  }

  /** Forgets what was known about `key` and everything below it (after a removal). */
  private forget (key: string): void {
    if (key === '') return
    const prefix = `${key}/`
    for (const known of this.dirs) {
      if (known === key || known.startsWith(prefix)) this.dirs.delete(known)
    }
    for (const known of this.dirMeta.keys()) {
      if (known === key || known.startsWith(prefix)) this.dirMeta.delete(known)
    }
  }

  /**
   * Removes whatever is at `key` without following it. `drain`: wait for every job first
   * (a directory may have jobs writing below it); a job itself passes false, see writeSmall.
   */
  private async clear (key: string, drain = true): Promise<void> {
    const full = this.abs(key)
    const stat = await lstatOrUndefined(full)
    if (stat === undefined) return
    if (stat.isDirectory()) {
      if (drain) await this.flush()
      this.forget(key)
      await removeTree(full)
    } else {
      await fs.unlink(full)
    }
  }

  /** Waits for the job writing `key`, if any; rethrows the first failed job's error. */
  private async waitFor (key: string): Promise<void> {
    const job = this.jobs.get(key)
    if (job !== undefined) await job
    if (this.jobError !== undefined) throw this.jobError
  }

  /** Waits for every job; rethrows the first failed job's error. */
  async flush (): Promise<void> {
    await this.settle()
    if (this.jobError !== undefined) throw this.jobError
  }

  /** Waits for every job, ignoring failures (before the tree is deleted after an error). */
  async settle (): Promise<void> {
    while (this.jobs.size > 0) await Promise.all(this.jobs.values())
  }

  private async startJob (key: string, bytes: number, run: () => Promise<void>): Promise<void> {
    while (this.jobs.size >= MAX_JOBS || (this.jobs.size > 0 && this.jobBytes + bytes > MAX_JOB_BYTES)) {
      await Promise.race(this.jobs.values())
    }
    if (this.jobError !== undefined) throw this.jobError
    this.jobBytes += bytes
    const job = run().catch((error: unknown) => { this.jobError ??= error }).finally(() => {
      this.jobBytes -= bytes
      this.jobs.delete(key)
    })
    this.jobs.set(key, job)
  }

  private rootMember (member: string, what: string): SandboxError {
    return new SandboxError('NSB_ROOTFS_INVALID',
      `${this.archive}: the member ${JSON.stringify(member)} is a ${what} but names the root directory itself; the archive is corrupt: re-create it`)
  }

  /** Runs `action` (a chown to meta's owner) when owners are applied and differ from ours. */
  private async applyOwner (meta: EntryMeta, action: () => Promise<void>): Promise<void> {
    if (!this.chown || (meta.uid === this.uid && meta.gid === this.gid)) return
    try {
      await action()
    } catch (error) {
      if (errorCode(error) !== 'EPERM') throw error
      this.chown = false
      this.onChownDenied?.()
    }
  }

  async writeFile (parts: readonly string[], member: string, size: number, body: AsyncIterable<Buffer>, meta: EntryMeta): Promise<void> {
    if (parts.length === 0) throw this.rootMember(member, 'file')
    await this.ensureParents(parts, member, true)
    const key = parts.join('/')
    await this.waitFor(key)
    if (this.dirs.has(key)) await this.clear(key)
    if (size > SMALL_FILE) {
      await this.writeStreamed(key, body, meta)
      return
    }
    const chunks: Buffer[] = []
    for await (const chunk of body) chunks.push(chunk)
    this.fileBytes += size
    await this.startJob(key, size, async () => { await this.writeSmall(key, chunks, meta) })
  }

  private async openNew (key: string, mode: number, drain: boolean): Promise<FileHandle> {
    const full = this.abs(key)
    try {
      return await fs.open(full, FILE_FLAGS, mode & 0o777)
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error
      await this.clear(key, drain)
      return await fs.open(full, FILE_FLAGS, mode & 0o777)
    }
  }

  /**
   * A job. Something already at `key` is removed without draining the other jobs: none
   * writes below `key`, since a later entry below it waits for this job in ensureParents.
   */
  private async writeSmall (key: string, chunks: Buffer[], meta: EntryMeta): Promise<void> {
    const handle = await this.openNew(key, meta.mode, false)
    try {
      if (chunks.length > 0) await writeAll(handle, chunks)
      await this.finishFile(handle, meta)
    } finally {
      await handle.close()
    }
  }

  private async writeStreamed (key: string, body: AsyncIterable<Buffer>, meta: EntryMeta): Promise<void> {
    const handle = await this.openNew(key, meta.mode, true)
    try {
      let batch: Buffer[] = []
      let batchBytes = 0
      for await (const chunk of body) {
        batch.push(chunk)
        batchBytes += chunk.length
        this.fileBytes += chunk.length
        if (batchBytes >= WRITE_BATCH) {
          await writeAll(handle, batch)
          batch = []
          batchBytes = 0
        }
      }
      if (batch.length > 0) await writeAll(handle, batch)
      await this.finishFile(handle, meta)
    } finally {
      await handle.close()
    }
  }

  private async finishFile (handle: FileHandle, meta: EntryMeta): Promise<void> {
    const mode = meta.mode & 0o7777
    await this.applyOwner(meta, async () => { await handle.chown(meta.uid, meta.gid) })
    // The umask may have cleared bits; setuid/setgid are set here, after chown (which clears them).
    if (((mode & 0o777) & ~this.umask) !== mode) await handle.chmod(mode)
    if (meta.mtime !== undefined) await handle.utimes(meta.mtime, meta.mtime)
  }

  async mkdir (parts: readonly string[], member: string, meta: EntryMeta): Promise<void> {
    const key = parts.join('/')
    if (parts.length > 0) {
      await this.ensureParents(parts, member, true)
      await this.waitFor(key)
      const full = this.abs(key)
      try {
        await fs.mkdir(full, IMPLICIT_DIR_MODE)
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error
        const stat = await fs.lstat(full)
        if (!stat.isDirectory()) {
          await fs.unlink(full)
          await fs.mkdir(full, IMPLICIT_DIR_MODE)
        }
      }
      this.dirs.add(key)
    }
    await this.applyOwner(meta, async () => { await fs.lchown(this.abs(key), meta.uid, meta.gid) })
    this.dirMeta.set(key, { ...meta, mode: meta.mode & 0o7777 })
  }

  async symlink (parts: readonly string[], member: string, target: string, meta: EntryMeta): Promise<void> {
    if (parts.length === 0) throw this.rootMember(member, 'symlink')
    await this.ensureParents(parts, member, true)
    const key = parts.join('/')
    await this.waitFor(key)
    const full = this.abs(key)
    try {
      await fs.symlink(target, full)
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error
      await this.clear(key)
      await fs.symlink(target, full)
    }
    await this.applyOwner(meta, async () => { await fs.lchown(full, meta.uid, meta.gid) })
    if (meta.mtime !== undefined) await fs.lutimes(full, meta.mtime, meta.mtime)
  }

  /** A hard link to `targetParts`, which must already exist in the tree and not be a directory. */
  async hardlink (parts: readonly string[], member: string, targetParts: readonly string[], targetName: string): Promise<void> {
    if (parts.length === 0) throw this.rootMember(member, 'hard link')
    const missing = (): SandboxError => new SandboxError('NSB_ROOTFS_UNSAFE',
      `${this.archive}: the hard link ${member} points at ${JSON.stringify(targetName)}, which is not a file extracted before it; hard links may only point at earlier members inside the root filesystem, so the import is refused. Re-create the archive`)
    if (targetParts.length === 0) throw missing()
    if (!(await this.ensureParents(targetParts, member, false))) throw missing()
    const targetKey = targetParts.join('/')
    await this.waitFor(targetKey)
    const targetStat = await lstatOrUndefined(this.abs(targetKey))
    if (targetStat === undefined || targetStat.isDirectory()) throw missing()
    const key = parts.join('/')
    if (key === targetKey) return
    await this.ensureParents(parts, member, true)
    await this.waitFor(key)
    const full = this.abs(key)
    try {
      await fs.link(this.abs(targetKey), full)
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error
      await this.clear(key)
      await fs.link(this.abs(targetKey), full)
    }
  }

  /** Removes `parts` (a whiteout); returns false when there was nothing to remove. */
  async remove (parts: readonly string[], member: string): Promise<boolean> {
    if (parts.length === 0) return false
    if (!(await this.ensureParents(parts, member, false))) return false
    const key = parts.join('/')
    await this.waitFor(key)
    if (await lstatOrUndefined(this.abs(key)) === undefined) return false
    await this.clear(key)
    return true
  }

  /** Names in directory `parts`, or [] when it is missing or not a real directory. */
  async list (parts: readonly string[], member: string): Promise<Array<{ name: string, isDirectory: boolean }>> {
    await this.flush()
    if (!(await this.ensureParents(parts, member, false))) return []
    const full = this.abs(parts.join('/'))
    const stat = await lstatOrUndefined(full)
    if (stat === undefined || !stat.isDirectory()) return []
    const entries = await fs.readdir(full, { withFileTypes: true })
    return entries.map((entry) => ({ name: entry.name, isDirectory: entry.isDirectory() }))
  }

  /** Applies directory modes and times, deepest first. */
  async finish (): Promise<void> {
    await this.flush()
    const keys = [...this.dirMeta.keys()]
    const depth = (key: string): number => key === '' ? 0 : key.split('/').length
    keys.sort((a, b) => depth(b) - depth(a))
    for (const key of keys) {
      const meta = this.dirMeta.get(key) as EntryMeta
      const handle = await fs.open(this.abs(key), DIR_FLAGS)
      try {
        await handle.chmod(meta.mode)
        if (meta.mtime !== undefined) await handle.utimes(meta.mtime, meta.mtime)
      } finally {
        await handle.close()
      }
    }
    this.dirMeta.clear()
  }
}
