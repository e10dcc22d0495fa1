import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decodeExit, type ExitObservation } from '../src/host/exit-status.js'

const base: ExitObservation = { code: 0, signal: null, reportedCode: undefined, timedOut: false, timeoutMs: undefined, usage: { oomKills: 0, pidsLimitHits: 0 }, memoryBytes: undefined, pids: undefined }

describe('decodeExit', () => {
  it('passes a plain exit code through', () => {
    assert.deepEqual(decodeExit({ ...base, code: 3 }), { code: 3, signal: null })
  })

  it('reads the init\'s 128+N as signal N', () => {
    assert.deepEqual(decodeExit({ ...base, code: 137 }), { code: null, signal: 'SIGKILL' })
    assert.deepEqual(decodeExit({ ...base, code: 143 }), { code: null, signal: 'SIGTERM' })
  })

  it('tells a Node entry\'s own exit(128+N) from signal N by the code it reported', () => {
    assert.deepEqual(decodeExit({ ...base, code: 137, reportedCode: 137 }), { code: 137, signal: null })
    assert.deepEqual(decodeExit({ ...base, code: 137, reportedCode: 0 }), { code: null, signal: 'SIGKILL' })
  })

  it('keeps the real exit code when Node changed it after the entry reported', () => {
    assert.deepEqual(decodeExit({ ...base, code: 13, reportedCode: 0 }), { code: 13, signal: null })
  })

  it('uses the reported code when the launcher was killed after the entry decided it', () => {
    assert.deepEqual(decodeExit({ ...base, code: null, signal: 'SIGKILL', reportedCode: 4 }), { code: 4, signal: null })
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
