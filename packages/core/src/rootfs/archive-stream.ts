/**
 * Opens an archive file as a stream of tar bytes: read, hashed and decompressed on a
 * worker thread (decompress-worker.ts), checked to be tar, and handed to `consume`.
 * Decompression errors (a truncated gzip, corrupt zstd) become NSB_ROOTFS_INVALID.
 */
import { SandboxError } from '../errors.js'
import { assertDecompressible, isTarHeaderBlock } from './archive-format.js'
import type { Compression } from './archive-format.js'
import { DecompressError, decompressFile } from './decompress-worker.js'
import type { DecompressResult } from './decompress-worker.js'
import type { ExtractBudget } from './limits.js'

export interface TarStreamOptions {
  /** Names the archive in error messages. */
  archive: string
  compression: Compression
  /** Called with the number of archive (compressed) bytes read since the last call. */
  onBytes?: (bytes: number) => void
  /** Hash the archive file's bytes (the result's fileDigest). */
  fileHash?: 'sha256' | 'sha512'
  /** Hash the decompressed tar bytes (the result's tarDigest). */
  tarHash?: 'sha256' | 'sha512'
  /** Checked against the amount of decompressed data. */
  budget?: ExtractBudget
}

const TAR_BLOCK = 512

export async function withTarStream (file: string, options: TarStreamOptions, consume: (tar: AsyncIterable<Buffer>) => Promise<void>): Promise<DecompressResult> {
  const { archive, compression } = options
  assertDecompressible(compression, archive)
  const result: DecompressResult = {}
  const raw = decompressFile(file, {
    compression,
    ...(options.fileHash === undefined ? {} : { fileHash: options.fileHash }),
    ...(options.tarHash === undefined ? {} : { tarHash: options.tarHash }),
    ...(options.onBytes === undefined ? {} : { onBytes: options.onBytes })
  }, result)

  const notTar = (): SandboxError => new SandboxError('NSB_ROOTFS_UNSUPPORTED_FORMAT',
    `${archive}: the ${compression === 'none' ? '' : `${compression}-`}decompressed data is not a tar archive; use a tar, tar.gz or tar.zst archive, an OCI image layout tarball or a \`docker save\` tarball`)

  async function * checkTar (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let head: Buffer[] | undefined = []
    let headBytes = 0
    for await (const chunk of source) {
      options.budget?.addStreamBytes(chunk.length)
      if (head === undefined) {
        yield chunk
        continue
      }
      head.push(chunk)
      headBytes += chunk.length
      if (headBytes < TAR_BLOCK) continue
      const first = head.length === 1 ? chunk : Buffer.concat(head)
      head = undefined
      if (!isTarHeaderBlock(first.subarray(0, TAR_BLOCK))) throw notTar()
      yield first
    }
    if (head !== undefined) throw notTar()
  }

  try {
    await consume(checkTar(raw))
  } catch (error) {
    if (error instanceof DecompressError) {
      throw new SandboxError('NSB_ROOTFS_INVALID',
        `${archive}: the ${compression} data is truncated or corrupt (${error.message}); re-download or re-create the archive`, { cause: error })
    }
    throw error
  } finally {
    await raw.return(undefined)
  }
  return result
}
