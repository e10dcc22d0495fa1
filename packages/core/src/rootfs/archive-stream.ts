/**
 * Opens an archive file as a stream of tar bytes: read in 1 MiB chunks (hashed and
 * reported as progress), decompressed when needed, checked to be tar, and handed to
 * `consume`. Decompression errors (a truncated gzip, corrupt zstd) become NSB_ROOTFS_INVALID.
 */
import { createReadStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import type { Hash } from 'node:crypto'
import { SandboxError } from '../errors.js'
import { createDecompressor, isTarHeaderBlock } from './archive-format.js'
import type { Compression } from './archive-format.js'
import type { ExtractBudget } from './limits.js'

export interface TarStreamOptions {
  /** Names the archive in error messages. */
  archive: string
  compression: Compression
  /** Called with the number of archive (compressed) bytes of each chunk read. */
  onBytes?: (bytes: number) => void
  /** Receives the archive file's bytes. */
  fileHash?: Hash
  /** Receives the decompressed tar bytes. */
  tarHash?: Hash
  /** Checked against the amount of decompressed data. */
  budget?: ExtractBudget
}

const READ_CHUNK = 1024 * 1024
const TAR_BLOCK = 512

export async function withTarStream (file: string, options: TarStreamOptions, consume: (tar: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  const { archive, compression } = options
  const decompressor = createDecompressor(compression, archive)
  let decompressError: unknown
  decompressor?.on('error', (error: unknown) => { decompressError ??= error })

  async function * readRaw (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      options.fileHash?.update(chunk)
      options.onBytes?.(chunk.length)
      yield chunk
    }
  }

  async function * checkTar (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let head: Buffer[] | undefined = []
    let headBytes = 0
    for await (const chunk of source) {
      options.tarHash?.update(chunk)
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

  function notTar (): SandboxError {
    return new SandboxError('NSB_ROOTFS_UNSUPPORTED_FORMAT',
      `${archive}: the ${compression === 'none' ? '' : `${compression}-`}decompressed data is not a tar archive; use a tar, tar.gz or tar.zst archive, an OCI image layout tarball or a \`docker save\` tarball`)
  }

  let consumeError: unknown
  const consumer = async (tar: AsyncIterable<Buffer>): Promise<void> => {
    try {
      await consume(tar)
    } catch (error) {
      consumeError ??= error
      throw error
    }
  }

  const source = createReadStream(file, { highWaterMark: READ_CHUNK })
  try {
    if (decompressor === undefined) await pipeline(source, readRaw, checkTar, consumer)
    else await pipeline(source, readRaw, decompressor, checkTar, consumer)
  } catch (error) {
    if (consumeError instanceof SandboxError) throw consumeError
    if (error instanceof SandboxError) throw error
    if (decompressError !== undefined) {
      const message = decompressError instanceof Error ? decompressError.message : String(decompressError)
      throw new SandboxError('NSB_ROOTFS_INVALID',
        `${archive}: the ${compression} data is truncated or corrupt (${message}); re-download or re-create the archive`, { cause: decompressError })
    }
    throw error
  }
}
