/**
 * Drives tar-stream's parser from an async iterable of tar bytes, one entry at a time:
 * `onEntry` must consume the entry's body before its promise settles. Parse errors become
 * NSB_ROOTFS_INVALID; errors from the input or from `onEntry` are rethrown as they are.
 */
import { extract as createExtract } from 'tar-stream'
import type { Header } from 'tar-stream'
import { SandboxError } from '../errors.js'

export type TarHeader = Header
export type EntryHandler = (header: TarHeader, body: AsyncIterable<Buffer>) => Promise<void>

/** Reads and discards what is left of an entry's body. */
export async function drain (body: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of body) void chunk
}

export async function readTar (input: AsyncIterable<Buffer>, archive: string, onEntry: EntryHandler): Promise<void> {
  const extract = createExtract()
  let handlerError: unknown
  let inputError: unknown
  let failed = false

  const finished = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      onEntry(header, body as unknown as AsyncIterable<Buffer>).then(() => { next() }, (error: unknown) => {
        handlerError = error
        failed = true
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
