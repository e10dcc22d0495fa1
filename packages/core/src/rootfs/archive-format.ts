/**
 * Sniffing archives by their magic bytes (never by file name), and which compressions this
 * Node.js can decompress (decompression itself runs in decompress-worker.ts).
 * Image layouts (OCI, `docker save`) are tar archives too: they are told apart after the
 * outer tar is unpacked, see `image-archive.ts`.
 */
import fs from 'node:fs/promises'
import zlib from 'node:zlib'
import { SandboxError } from '../errors.js'

export type Compression = 'none' | 'gzip' | 'zstd'

const TAR_BLOCK = 512

function startsWith (head: Uint8Array, magic: readonly number[]): boolean {
  return head.length >= magic.length && magic.every((byte, index) => head[index] === byte)
}

/** True when `block` (512 bytes) is a tar header with a valid checksum, or the all-zero end block. */
export function isTarHeaderBlock (block: Uint8Array): boolean {
  if (block.length < TAR_BLOCK) return false
  let sum = 0
  let zero = true
  for (let index = 0; index < TAR_BLOCK; index++) {
    const byte = block[index] ?? 0
    if (byte !== 0) zero = false
    sum += index >= 148 && index < 156 ? 0x20 : byte
  }
  if (zero) return true
  const field = Buffer.from(block.subarray(148, 156)).toString('latin1').replace(/[\0 ]+$/g, '').trim()
  if (!/^[0-7]{1,8}$/.test(field)) return false
  return parseInt(field, 8) === sum
}

export interface SniffResult {
  compression: Compression
}

function unsupported (archive: string, what: string, fix: string): SandboxError {
  return new SandboxError('NSB_ROOTFS_UNSUPPORTED_FORMAT',
    `${archive} is ${what}, which the rootfs import cannot read; ${fix}`)
}

/** Reads the first bytes of `file` and tells its compression; refuses non-archives. */
export async function sniffArchive (file: string, archive: string = file): Promise<SniffResult> {
  const handle = await fs.open(file, 'r')
  let head: Buffer
  try {
    const buffer = Buffer.alloc(TAR_BLOCK)
    const { bytesRead } = await handle.read(buffer, 0, TAR_BLOCK, 0)
    head = buffer.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
  return sniffBytes(head, archive)
}

/** Like `sniffArchive`, on the first (up to) 512 bytes of a stream. */
export function sniffBytes (head: Uint8Array, archive: string): SniffResult {
  if (startsWith(head, [0x1f, 0x8b])) return { compression: 'gzip' }
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) return { compression: 'zstd' }
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) {
    throw unsupported(archive, 'xz-compressed', `decompress it first (\`xz -d ${archive}\`) or re-create it as .tar.gz`)
  }
  if (startsWith(head, [0x42, 0x5a, 0x68])) {
    throw unsupported(archive, 'bzip2-compressed', `decompress it first (\`bzip2 -d ${archive}\`) or re-create it as .tar.gz`)
  }
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) {
    throw unsupported(archive, 'a zip file', 'use a tar, tar.gz or tar.zst archive, an OCI image layout tarball or a `docker save` tarball')
  }
  if (isTarHeaderBlock(head)) return { compression: 'none' }
  throw unsupported(archive, head.length === 0 ? 'empty' : 'not a tar archive (no gzip, zstd or tar header at its start)',
    'use a tar, tar.gz or tar.zst archive, an OCI image layout tarball or a `docker save` tarball')
}

/** Whether this Node.js can decompress zstd (zlib.createZstdDecompress: Node >= 22.15 / 23.8). */
export function zstdSupported (): boolean {
  return typeof (zlib as unknown as Record<string, unknown>).createZstdDecompress === 'function'
}

/** Refuses a compression this Node.js cannot decompress, saying what to do instead. */
export function assertDecompressible (compression: Compression, archive: string): void {
  if (compression === 'zstd' && !zstdSupported()) {
    throw unsupported(archive, 'zstd-compressed',
      `this Node.js (${process.version}) has no zstd decompressor: run on Node.js >= 22.15 (or >= 23.8), or decompress it first with \`zstd -d ${archive}\``)
  }
}
