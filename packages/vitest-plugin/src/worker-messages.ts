/**
 * The few facts of Vitest's worker protocol the pool needs: which request a message
 * is, which files it runs, and the two responses the pool gives on the worker's
 * behalf (`started` before the sandbox exists, `stopped` when it never had to).
 */
import type { WorkerRequest } from 'vitest/node'

export type RequestType = WorkerRequest['type']

/** The request type of a pool message, or undefined for an RPC message. */
export function requestType (message: unknown): RequestType | undefined {
  if (typeof message !== 'object' || message === null) return undefined
  const record = message as { __vitest_worker_request__?: unknown, type?: unknown }
  return record.__vitest_worker_request__ === true ? record.type as RequestType : undefined
}

export function isResponse (message: unknown, type: 'started' | 'stopped' | 'testfileFinished'): message is { type: string, error?: unknown } {
  if (typeof message !== 'object' || message === null) return false
  const record = message as { __vitest_worker_response__?: unknown, type?: unknown }
  return record.__vitest_worker_response__ === true && record.type === type
}

export function response (type: 'started' | 'stopped'): { __vitest_worker_response__: true, type: 'started' | 'stopped' } {
  return { __vitest_worker_response__: true, type }
}

/** Test files of a `run` or `collect` request. */
export function filesOf (message: WorkerRequest): string[] {
  if (message.type !== 'run' && message.type !== 'collect') return []
  return message.context.files.map((file) => typeof file === 'string' ? file : file.filepath)
}

/** A serialized error from the worker, as an Error Vitest can print. */
export function toError (serialized: unknown, prefix: string): Error {
  if (serialized instanceof Error) return serialized
  const record = (typeof serialized === 'object' && serialized !== null ? serialized : { message: String(serialized) }) as { message?: unknown, stack?: unknown, name?: unknown }
  const error = new Error(`${prefix}${String(record.message ?? 'unknown error')}`)
  if (typeof record.stack === 'string') error.stack = `${prefix}${record.stack}`
  return error
}
