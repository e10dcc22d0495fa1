/** assert.throws/rejects matcher: a SandboxError with this code (and message). */
import assert from 'node:assert/strict'
import { SandboxError, type SandboxErrorCode } from '../../src/errors.js'

export function isCode (code: SandboxErrorCode, message?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SandboxError, `expected a SandboxError, got ${String(error)}`)
    assert.equal(error.code, code, error.message)
    if (message !== undefined) assert.match(error.message, message)
    return true
  }
}
