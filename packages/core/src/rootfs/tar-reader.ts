/**
 * Drives tar-stream's parser from an async iterable of tar bytes, one entry at a time:
 * `onEntry` must consume the entry's body before its promise settles. Parse errors become
 * NSB_ROOTFS_INVALID; errors from the input or from `onEntry` are rethrown as they are.
 */
import { extract as createExtract } from 'tar-stream'
import type { Header } from 'tar-stream'
import { SandboxError } from '../errors.js'

export type TarHeader = Header

/** An entry's data, read once: whole (small files), chunk by chunk, or skipped. */
export interface EntryBody extends AsyncIterable<Buffer> {
  readonly size: number
  /** All of it, as the parser's chunks. */
  readAll: () => Promise<Buffer[]>
  /** Reads and discards it. */
  skip: () => Promise<void>
}

export type EntryHandler = (header: TarHeader, body: EntryBody) => Promise<void>

type Source = NodeJS.EventEmitter & AsyncIterable<Buffer> & { resume: () => void }

const NOTHING: Promise<Buffer[]> = Promise.resolve([])
const DONE: Promise<void> = Promise.resolve()

/** Event listeners rather than async iteration: an order of magnitude cheaper per entry. */
function entryBody (source: Source, size: number): EntryBody {
  return {
    size,
    readAll: () => size === 0
      ? NOTHING
      : new Promise<Buffer[]>((resolve, reject) => {
        const chunks: Buffer[] = []
        source.on('data', (chunk: Buffer) => { chunks.push(chunk) })
        source.on('end', () => { resolve(chunks) })
        source.on('error', reject)
      }),
    skip: () => size === 0
      ? DONE
      : new Promise<void>((resolve, reject) => {
        source.on('end', resolve)
        source.on('error', reject)
        source.resume()
      }),
    [Symbol.asyncIterator]: () => source[Symbol.asyncIterator]()
  }
}

export async function readTar (input: AsyncIterable<Buffer>, archive: string, onEntry: EntryHandler): Promise<void> {
  const extract = createExtract()
  let handlerError: unknown
  let inputError: unknown
  let failed = false

  const finished = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, source, next) => {
      onEntry(header, entryBody(source as unknown as Source, header.size ?? 0)).then(() => { next() }, (error: unknown) => {
        handlerError = error
        failed = true
        // A refused entry's unread body is destroyed with the parser, with this same error:
        // unheard, it would be an uncaught exception.
        source.on('error', () => {})
        next(error instanceof Error ? error : new Error(String(error)))
      })
    })
    extract.on('finish', () => { resolve() })
    extract.on('error', (error: unknown) => {
      failed = true
      reject(error)
    })
    extract.on('close', () => {
      // A destroy without an error still has to settle the promise.
      if (failed) reject(handlerError ?? inputError ?? new Error('tar parser closed'))
      else resolve()
    })
  })
  finished.catch(() => {})

  const waitForDrain = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        extract.off('drain', done)
        extract.off('close', done)
        resolve()
      }
      extract.on('drain', done)
      extract.on('close', done)
    })
  }

  try {
    for await (const chunk of input) {
      if (failed || extract.destroyed) break
      if (!extract.write(chunk)) await waitForDrain()
      if (failed || extract.destroyed) break
    }
    if (!failed && !extract.destroyed) extract.end(null)
  } catch (error) {
    inputError = error
    failed = true
    extract.destroy(error instanceof Error ? error : new Error(String(error)))
  }

  try {
    await finished
  } catch (error) {
    if (inputError !== undefined) throw inputError
    if (handlerError !== undefined) throw handlerError
    if (error instanceof SandboxError) throw error
    const message = error instanceof Error ? error.message : String(error)
    throw new SandboxError('NSB_ROOTFS_INVALID',
      `${archive}: the tar data is truncated or corrupt (${message}); re-download or re-create the archive`, { cause: error })
  }
  if (inputError !== undefined) throw inputError
  if (handlerError !== undefined) throw handlerError
}
