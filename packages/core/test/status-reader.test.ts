/** What the host accepts on the status pipe, and where it finds the sandbox's pids: pure parts. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { namespacePids, parentOfStat } from '../src/host/sandbox-pids.js'
import { parseStatusLine, StatusSequence } from '../src/host/status-reader.js'
import type { StatusMessage } from '../src/protocol.js'

describe('parseStatusLine', () => {
  it('accepts the messages a real start writes', () => {
    assert.deepEqual(parseStatusLine('{"type":"started"}'), { type: 'started' })
    assert.deepEqual(parseStatusLine('{"type":"ready","setupMs":4.5,"phases":{"mounts":3.1}}'), { type: 'ready', setupMs: 4.5, phases: { mounts: 3.1 } })
    assert.deepEqual(parseStatusLine('{"type":"error","code":"NSB_MOUNT_FAILED","message":"m","details":["d"]}'),
      { type: 'error', code: 'NSB_MOUNT_FAILED', message: 'm', details: ['d'] })
    assert.deepEqual(parseStatusLine('{"type":"init-exit","status":143,"code":null,"signal":15}'), { type: 'init-exit', status: 143, code: null, signal: 15 })
    assert.deepEqual(parseStatusLine('{"type":"init-exit","status":3,"code":3,"signal":null}'), { type: 'init-exit', status: 3, code: 3, signal: null })
    assert.deepEqual(parseStatusLine('{"type":"reset","ms":1.25,"kept":12,"staged":true}'), { type: 'reset', ms: 1.25, kept: 12, staged: true })
    assert.deepEqual(parseStatusLine('{"type":"reset","ms":0,"error":"e"}'), { type: 'reset', ms: 0, error: 'e' })
  })

  it('refuses pids, unknown types and fields of the wrong shape', () => {
    for (const line of [
      '{"type":"started","pid":1,"initPid":-1}',
      '{"type":"exit","code":0}',
      '{"type":"ready","setupMs":-1,"phases":{}}',
      '{"type":"ready","setupMs":1,"phases":{"a":"x"}}',
      '{"type":"error","code":"NSB_WHATEVER","message":"m","details":[]}',
      '{"type":"error","code":"NSB_SETUP_FAILED","message":"m","details":[1]}',
      '{"type":"init-exit","status":0}',
      '{"type":"init-exit","status":300,"code":0,"signal":null}',
      '{"type":"init-exit","status":0,"code":0,"signal":9}',
      '{"type":"init-exit","status":0,"code":null,"signal":null}',
      '{"type":"reset","ms":1}',
      '{"type":"reset","ms":1,"kept":-1,"staged":false}',
      '{"type":"reset","ms":1,"kept":1}',
      '{"type":"reset","ms":1,"kept":1,"error":"e"}',
      '["started"]', 'null', '@nsb end', ''
    ]) assert.equal(parseStatusLine(line), undefined, line)
  })
})

describe('StatusSequence', () => {
  const run = (types: Array<StatusMessage['type']>): boolean[] => {
    const sequence = new StatusSequence()
    const sample: Record<StatusMessage['type'], StatusMessage> = {
      started: { type: 'started' },
      ready: { type: 'ready', setupMs: 1, phases: {} },
      error: { type: 'error', code: 'NSB_SETUP_FAILED', message: '', details: [] },
      'init-exit': { type: 'init-exit', status: 0, code: 0, signal: null },
      reset: { type: 'reset', ms: 1, kept: 0, staged: false }
    }
    return types.map((type) => sequence.accepts(sample[type]))
  }

  it('takes each message once, in a real start\'s order', () => {
    assert.deepEqual(run(['started', 'ready', 'init-exit']), [true, true, true])
    assert.deepEqual(run(['started', 'started', 'ready', 'ready', 'init-exit', 'init-exit']), [true, false, true, false, true, false])
    assert.deepEqual(run(['started', 'error', 'ready']), [true, true, false], 'no ready after a setup error')
    assert.deepEqual(run(['started', 'ready', 'error']), [true, true, false], 'no setup error after ready')
    assert.deepEqual(run(['error', 'started']), [true, true], 'the init may fail before it forks')
    assert.deepEqual(run(['ready', 'init-exit', 'started', 'ready']), [false, false, true, true])
    assert.deepEqual(run(['started', 'init-exit', 'ready']), [true, true, false], 'nothing after init-exit')
    assert.deepEqual(run(['started', 'reset', 'ready', 'reset', 'reset', 'init-exit', 'reset']), [true, false, true, true, true, true, false],
      'resets answer between ready and init-exit')
  })
})

describe('sandbox pids from /proc', () => {
  it('reads the parent from a stat line whose command holds spaces and parentheses', () => {
    assert.equal(parentOfStat('4242 (a (b) c) S 17 4242 4242 0 -1'), 17)
    assert.equal(parentOfStat('garbage'), undefined)
  })

  it('reads NSpid outermost first', () => {
    assert.deepEqual(namespacePids('Name:\tnode\nNSpid:\t31337\t2\nNSpgid:\t1\n'), [31337, 2])
    assert.deepEqual(namespacePids('Name:\tnode\n'), [])
  })
})
