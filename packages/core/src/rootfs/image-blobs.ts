/** Blobs of an unpacked image archive: finding them safely and checking their digests. */
import fs from 'node:fs/promises'
import path from 'node:path'
import { SandboxError } from '../errors.js'
import { hashFile, parseDigest } from './digest.js'

/** One layer to apply, in order. */
export interface ImageLayer {
  /** Absolute path of the layer blob inside the unpacked outer archive. */
  file: string
  /** Names the layer in messages. */
  label: string
  size: number
  /** Expected digest of the blob file (OCI descriptors, docker `blobs/sha256/...` paths). */
  blobDigest?: string
  /** Expected sha256 of the uncompressed layer tar (the image config's `rootfs.diff_ids`). */
  diffId?: string
}

export interface ImagePlan {
  kind: 'oci' | 'docker'
  /** What was picked, for messages: a ref, a tag or a manifest digest. */
  picked: string
  layers: ImageLayer[]
}

export function digestMismatch (label: string, expected: string, actual: string): SandboxError {
  return new SandboxError('NSB_ROOTFS_DIGEST_MISMATCH',
    `${label} has digest ${actual}, but the image says ${expected}: the archive is corrupt or was tampered with; re-export or re-download the image`)
}

/**
 * `relative` (a path inside the archive) -> the absolute path of a regular file inside
 * `outer`, following symlinks only while they stay inside `outer` (old `docker save`
 * archives link duplicate layers). A missing blob is NSB_ROOTFS_INVALID.
 */
export async function resolveBlob (outer: string, relative: string, label: string, archive: string): Promise<{ file: string, size: number }> {
  const missing = (): SandboxError => new SandboxError('NSB_ROOTFS_INVALID',
    `${archive}: ${label} (${relative}) is missing from the archive; the image was exported incompletely: re-export it (docker save / skopeo copy) or re-download it`)
  const normalized = path.posix.normalize(relative.replace(/^\/+/, ''))
  if (normalized === '..' || normalized.startsWith('../')) {
    throw new SandboxError('NSB_ROOTFS_UNSAFE', `${archive}: ${label} points outside the archive (${relative}); refusing to read it`)
  }
  const realOuter = await fs.realpath(outer)
  let real: string
  try {
    real = await fs.realpath(path.join(outer, normalized))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') throw missing()
    throw error
  }
  if (!real.startsWith(`${realOuter}/`)) {
    throw new SandboxError('NSB_ROOTFS_UNSAFE', `${archive}: ${label} (${relative}) is a symlink that leads outside the archive; refusing to read it`)
  }
  const stat = await fs.stat(real)
  if (!stat.isFile()) throw missing()
  return { file: real, size: stat.size }
}

/** The path of a content-addressed blob: `blobs/<algorithm>/<hex>`. */
export function blobPath (digest: string, label: string, archive: string): string {
  const parsed = parseDigest(digest)
  if (parsed === undefined) {
    throw new SandboxError('NSB_ROOTFS_INVALID', `${archive}: ${label} has a malformed or unsupported digest ${JSON.stringify(digest)} (sha256 and sha512 are supported); the image is corrupt: re-export it`)
  }
  return `blobs/${parsed.algorithm}/${parsed.hex}`
}

/** Checks a whole blob file against `digest` (for small JSON blobs; layers are checked while streaming). */
export async function verifyBlob (file: string, digest: string, label: string): Promise<void> {
  const parsed = parseDigest(digest)
  if (parsed === undefined) return
  const actual = await hashFile(file, parsed.algorithm)
  if (actual !== digest) throw digestMismatch(label, digest, actual)
}
