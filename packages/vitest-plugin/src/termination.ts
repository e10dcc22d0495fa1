/**
 * How a sandbox's end is told to Vitest. A plain crash is the worker's own exit
 * (code, signal), so Vitest prints its usual "Worker exited unexpectedly with signal
 * SIGKILL"; a sandbox limit (memory, pids, timeout) becomes an error that names the
 * limit; a sandbox that could not start carries the doctor's diagnosis.
 */
import { isSandboxError, type SandboxResult } from '@ns-sandbox/core'

export type Termination =
  | { kind: 'exit', code: number | null, signal: NodeJS.Signals | null }
  | { kind: 'error', error: Error, limit?: string }

function describeFiles (files: readonly string[]): string {
  if (files.length === 0) return 'the worker'
  return `test file${files.length === 1 ? '' : 's'} ${files.join(', ')}`
}

export function fromResult (result: SandboxResult, files: readonly string[]): Termination {
  if (result.reason === undefined) return { kind: 'exit', code: result.code, signal: result.signal }
  const how = result.signal !== null ? `signal ${result.signal}` : `exit code ${String(result.code)}`
  const limit = result.message ?? result.reason
  return {
    kind: 'error',
    error: new Error(`[ns-sandbox] ${limit}: the sandbox of ${describeFiles(files)} was ended (worker exited with ${how})`),
    limit: `${limit}: the sandbox of this test file was ended`
  }
}

export function fromStartFailure (error: unknown, files: readonly string[]): Termination {
  const text = isSandboxError(error) ? error.describe() : error instanceof Error ? error.message : String(error)
  return { kind: 'error', error: new Error(`[ns-sandbox] the sandbox for ${describeFiles(files)} could not start, so it was not run:\n${text}`) }
}
