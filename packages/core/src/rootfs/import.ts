/**
 * importRootfs: archive -> content-addressed cache entry; resolveRootfs: a `--rootfs`
 * value -> a directory.
 *
 * The digest is the sha256 of the archive file (combined with imageRef when one is given,
 * see entryDigest). On a miss the archive is unpacked into a
 * temp directory inside the cache (so the final rename is atomic and never crosses file
 * systems); an image archive's outer tar is unpacked first, then its layers are applied
 * onto a fresh tree. Any failure removes the temp directory: the cache never holds a
 * partial entry. Two importers of the same archive both succeed: the first rename wins,
 * the other discards its copy and uses the winner's.
 */
import fs from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { SandboxError } from '../errors.js'
import { sniffArchive } from './archive-format.js'
import { withTarStream } from './archive-stream.js'
import {
  ROOTFS_DIR, createTempDir, entryDir, readName, readStoredEntry, resolveCacheDir, validateName, writeEntryFile, writeName
} from './cache-layout.js'
import { commitEntry, discardEntry, findDigest, looksLikeDigest, readEntry } from './cache.js'
import { hashFile } from './digest.js'
import { applyLayers, findImage } from './image-archive.js'
import { ExtractBudget } from './limits.js'
import { removeTree } from '../fs-util/remove-tree.js'
import { extractTar } from './safe-extract.js'
import { TreeWriter } from './tree-writer.js'
import { treeSize } from './tree-size.js'
import type { RootfsEntry, RootfsImportOptions } from './types.js'
import { ImportWarnings } from './warnings.js'

function errorCode (error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code
}

interface DigestMemo { key: string, digest: string }
/** realpath -> digest, valid while the file's identity, size and times are unchanged. */
const digestMemo = new Map<string, DigestMemo>()

/** What identifies a file's content without reading it: device, inode, size, times. */
async function fileIdentity (file: string): Promise<string> {
  const stat = await fs.stat(file, { bigint: true })
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`
}

async function digestOfArchive (archive: string): Promise<string> {
  const real = await fs.realpath(archive)
  const key = await fileIdentity(real)
  const memo = digestMemo.get(real)
  if (memo?.key === key) return memo.digest
  const digest = await hashFile(real)
  if (await fileIdentity(real) !== key) throw changedWhileImported(archive)
  digestMemo.set(real, { key, digest })
  return digest
}

/**
 * The cache key: the archive's digest, or for an image picked with imageRef from an archive
 * that may hold several, the sha256 of "<archive digest>\n<imageRef>" (one archive, one
 * entry per picked image).
 */
function entryDigest (archiveDigest: string, imageRef: string | undefined): string {
  if (imageRef === undefined) return archiveDigest
  return `sha256:${createHash('sha256').update(`${archiveDigest}\n${imageRef}`).digest('hex')}`
}

function changedWhileImported (archive: string): SandboxError {
  return new SandboxError('NSB_ROOTFS_DIGEST_MISMATCH',
    `${archive} changed while it was imported (its size or modification time moved), so its digest no longer describes what was read; import it again once it is no longer being written`)
}

async function statArchive (archive: string): Promise<number> {
  let stat
  try {
    stat = await fs.stat(archive)
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') {
      throw new SandboxError('NSB_ROOTFS_NOT_FOUND', `the rootfs archive ${archive} does not exist; check the path`)
    }
    throw error
  }
  if (!stat.isFile()) {
    throw new SandboxError('NSB_ROOTFS_UNSUPPORTED_FORMAT',
      `${archive} is not a regular file; import a tar, tar.gz or tar.zst archive, an OCI image layout tarball or a \`docker save\` tarball (a directory can be used as a rootfs as it is)`)
  }
  return stat.size
}

export async function importRootfs (archivePath: string, options: RootfsImportOptions = {}): Promise<RootfsEntry> {
  const cacheDir = resolveCacheDir(options.cacheDir)
  if (options.name !== undefined) validateName(options.name)
  const archive = archivePath
  const archiveSize = await statArchive(archive)
  const { compression } = await sniffArchive(archive)
  const identity = await fileIdentity(archive)
  const archiveDigest = await digestOfArchive(archive)
  const digest = entryDigest(archiveDigest, options.imageRef)

  if (await readStoredEntry(cacheDir, digest) === undefined) {
    // Entries appear complete (atomic rename), so an entry directory without a valid
    // entry.json was made or damaged by hand: clear it out of the way.
    if (existsSync(entryDir(cacheDir, digest))) await discardEntry(cacheDir, digest)
    await unpack(archive, archiveSize, compression, archiveDigest, digest, identity, cacheDir, options)
  }
  if (options.name !== undefined) await writeName(cacheDir, options.name, digest)
  const entry = await readEntry(cacheDir, digest)
  if (entry === undefined) {
    throw new SandboxError('NSB_ROOTFS_NOT_FOUND',
      `the rootfs cache entry ${digest} in ${cacheDir} vanished right after it was imported (removed by a concurrent \`ns-sandbox rootfs prune\` or rm?); import it again`)
  }
  return entry
}

async function unpack (archive: string, archiveSize: number, compression: Awaited<ReturnType<typeof sniffArchive>>['compression'],
  archiveDigest: string, digest: string, identity: string, cacheDir: string, options: RootfsImportOptions): Promise<void> {
  const warnings = new ImportWarnings(options.onWarning)
  const isRoot = process.getuid?.() === 0
  const chown = options.preserveOwnership ?? isRoot
  const writerOptions = {
    archive,
    chown,
    onChownDenied: () => { warnings.once('chown', 'could not apply the archive\'s file owners (chown needs root): files belong to the caller') }
  }
  const allowSetuid = options.allowSetuid ?? false
  let done = 0
  let total: number | undefined = archiveSize
  const onBytes = options.onProgress === undefined
    ? undefined
    : (bytes: number): void => {
        done += bytes
        options.onProgress?.(done, total)
      }

  const temp = await createTempDir(cacheDir)
  try {
    // Unpacked first as is; a plain archive is the rootfs, an image's layers are applied from it.
    const unpacked = path.join(temp, 'unpacked')
    const rootfs = path.join(temp, ROOTFS_DIR)
    const writer = await TreeWriter.create(unpacked, writerOptions)
    const budget = new ExtractBudget(archive, options.maxBytes, options.maxEntries)
    await withTarStream(archive, { archive, compression, budget, ...(onBytes === undefined ? {} : { onBytes }) }, async (tar) => {
      await extractTar(tar, { archive, writer, budget, warnings, allowSetuid, layer: false })
    })
    // The digest was computed before unpacking: the file must still be the one hashed.
    if (await fileIdentity(archive) !== identity) throw changedWhileImported(archive)
    await writer.finish()

    let sizeBytes = writer.fileBytes
    let source: Record<string, unknown> = { archive: path.resolve(archive), archiveDigest, format: compression === 'none' ? 'tar' : `tar+${compression}` }
    const plan = await findImage(unpacked, archive, options.imageRef)
    if (plan === undefined && options.imageRef !== undefined) {
      throw new SandboxError('NSB_INVALID_OPTION',
        `imageRef ${JSON.stringify(options.imageRef)} was given, but ${archive} is a plain root filesystem archive, not an OCI image layout or \`docker save\` archive; drop imageRef (--image-ref)`)
    }
    if (plan === undefined) {
      await fs.rename(unpacked, rootfs)
    } else {
      total = archiveSize + plan.layers.reduce((sum, layer) => sum + layer.size, 0)
      const layers = await TreeWriter.create(rootfs, writerOptions)
      const layerBudget = new ExtractBudget(`the image in ${archive}`, options.maxBytes, options.maxEntries)
      await applyLayers(plan, { archive, writer: layers, budget: layerBudget, warnings, allowSetuid, ...(onBytes === undefined ? {} : { onBytes }) })
      await layers.finish()
      await removeTree(unpacked)
      sizeBytes = await treeSize(rootfs)
      source = { ...source, format: plan.kind === 'oci' ? 'oci-layout' : 'docker-save', image: plan.picked, imageRef: options.imageRef, layers: plan.layers.length }
    }
    await writeEntryFile(temp, { digest, sizeBytes, importedAt: new Date().toISOString(), source })
    await fs.chmod(temp, 0o755)
    await commitEntry(cacheDir, temp, digest)
  } catch (error) {
    await removeTree(temp)
    throw error
  } finally {
    warnings.flush()
  }
}

/**
 * A `--rootfs` value -> a directory usable as a read-only overlay lower layer: an existing
 * directory is returned as is (absolute), an archive is imported (a cache hit when its
 * bytes were imported before), otherwise an imported name (or digest) is looked up.
 */
export async function resolveRootfs (spec: string, options: RootfsImportOptions = {}): Promise<string> {
  if (spec === '') throw new SandboxError('NSB_INVALID_OPTION', 'the rootfs is empty: give a directory, an archive or an imported name')
  let stat
  try {
    stat = await fs.stat(spec)
  } catch (error) {
    if (errorCode(error) !== 'ENOENT' && errorCode(error) !== 'ENOTDIR') throw error
  }
  if (stat?.isDirectory() === true) return path.resolve(spec)
  if (stat !== undefined) return (await importRootfs(spec, options)).dir
  const cacheDir = resolveCacheDir(options.cacheDir)
  const named = await readName(cacheDir, spec)
  const digest = named ?? (looksLikeDigest(spec) ? await findDigest(cacheDir, spec) : undefined)
  const entry = digest === undefined ? undefined : await readEntry(cacheDir, digest)
  if (entry !== undefined) return entry.dir
  throw new SandboxError('NSB_ROOTFS_NOT_FOUND',
    named === undefined
      ? `the rootfs ${JSON.stringify(spec)} is neither a directory, an archive, nor a name imported into ${cacheDir}; check the path, or import it first: ns-sandbox rootfs import <archive> --name ${spec.replace(/[^a-z0-9._-]/g, '-')}`
      : `the rootfs name ${JSON.stringify(spec)} points at ${named}, which is no longer in ${cacheDir}; import the archive again: ns-sandbox rootfs import <archive> --name ${spec}`)
}
