import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decodeExit, type ExitObservation } from '../src/host/exit-status.js'

const base: ExitObservation = { code: 0, signal: null, commandExit: undefined, timedOut: false, timeoutMs: undefined, usage: { oomKills: 0, pidsLimitHits: 0 }, memoryBytes: undefined, pids: undefined }

describe('decodeExit', () => {
  it('passes a plain exit code through', () => {
    assert.deepEqual(decodeExit({ ...base, code: 3 }), { code: 3, signal: null })
  })

  it('reads the init\'s 128+N as signal N', () => {
    assert.deepEqual(decodeExit({ ...base, code: 137 }), { code: null, signal: 'SIGKILL' })
    assert.deepEqual(decodeExit({ ...base, code: 143 }), { code: null, signal: 'SIGTERM' })
  })

  it('takes the init\'s exact status of the command: exit(137) is not SIGKILL', () => {
    assert.deepEqual(decodeExit({ ...base, code: 137, commandExit: { code: 137, signal: null } }), { code: 137, signal: null })
    assert.deepEqual(decodeExit({ ...base, code: 137, commandExit: { code: null, signal: 9 } }), { code: null, signal: 'SIGKILL' })
    assert.deepEqual(decodeExit({ ...base, code: 13, commandExit: { code: 13, signal: null } }), { code: 13, signal: null })
  })

  it('keeps the shell\'s 128+N for a signal without a name', () => {
    assert.deepEqual(decodeExit({ ...base, code: 128 + 40, commandExit: { code: null, signal: 40 } }), { code: 168, signal: null })
  })

  it('keeps a signal that ended the launcher itself', () => {
    assert.deepEqual(decodeExit({ ...base, code: null, signal: 'SIGKILL' }), { code: null, signal: 'SIGKILL' })
  })

  it('names the limit that ended the run', () => {
    assert.deepEqual(decodeExit({ ...base, code: 137, usage: { oomKills: 1, pidsLimitHits: 0 }, memoryBytes: 512 * 1024 * 1024 }),
      { code: null, signal: 'SIGKILL', reason: 'oom', message: 'memory limit 512 MiB exceeded (OOM kill)' })
    assert.equal(decodeExit({ ...base, code: 1, usage: { oomKills: 0, pidsLimitHits: 4 }, pids: 16 }).message,
      'pids limit 16 reached: 4 fork/clone calls refused')
    assert.deepEqual(decodeExit({ ...base, code: null, signal: 'SIGKILL', timedOut: true, timeoutMs: 30_000, usage: { oomKills: 1, pidsLimitHits: 0 } }),
      { code: null, signal: 'SIGKILL', reason: 'timeout', message: 'timeout of 30s exceeded: sandbox killed' })
  })
})
