/** `forward`, `report` and `reportIgnore` as options: what is accepted, what is refused and how it is said. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SandboxError } from '../src/errors.js'
import { parseForward } from '../src/forward/spec.js'
import { pickSandboxOptions } from '../src/host/spawn-options.js'
import { resolveOptions } from '../src/options/schema.js'
import { parseRunArguments } from '../src/cli/run-command.js'

function refuses (options: unknown, message: RegExp): void {
  assert.throws(() => resolveOptions(options as never, '/home/me'),
    (error: unknown) => error instanceof SandboxError && error.code === 'NSB_INVALID_OPTION' && message.test(error.message))
}

describe('forward specs', () => {
  it('accepts ports, port strings and loopback host:port forms', () => {
    assert.deepEqual(parseForward(5432), { host: '127.0.0.1', port: 5432 })
    assert.deepEqual(parseForward('6379'), { host: '127.0.0.1', port: 6379 })
    assert.deepEqual(parseForward('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 })
    assert.deepEqual(parseForward('127.0.0.2:80'), { host: '127.0.0.2', port: 80 })
    assert.deepEqual(parseForward('localhost:3000'), { host: '127.0.0.1', port: 3000 })
    assert.deepEqual(parseForward('[::1]:65535'), { host: '::1', port: 65535 })
    assert.deepEqual(parseForward(1), { host: '127.0.0.1', port: 1 })
  })

  it('refuses ports out of range and hosts off the loopback', () => {
    for (const bad of [0, 65536, -1, 1.5, '0', '65536', 'abc', '', ':80', '127.0.0.1:', '127.0.0.1:0']) {
      assert.match(String(parseForward(bad)), /1-65535|expected/, String(bad))
    }
    for (const bad of ['10.0.0.1:5432', '0.0.0.0:80', 'example.com:80', '[::]:80', '[2001:db8::1]:80']) {
      assert.match(String(parseForward(bad)), /only the host's loopback/, bad)
    }
    assert.match(String(parseForward(true)), /expected a port number/)
  })
})

describe('forward, report and reportIgnore options', () => {
  it('resolves them with their defaults', () => {
    const plain = resolveOptions({}, '/home/me')
    assert.equal(plain.report, false)
    assert.deepEqual(plain.reportIgnore, [])
    assert.deepEqual(plain.forwards, [])
    const resolved = resolveOptions({ report: true, reportIgnore: ['~/.cache/**', '*.log', '/tmp/x'], forward: [5432, '127.0.0.1:6379'] }, '/home/me')
    assert.equal(resolved.report, true)
    assert.deepEqual(resolved.reportIgnore, ['/home/me/.cache/**', '*.log', '/tmp/x'])
    assert.deepEqual(resolved.forwards, [{ host: '127.0.0.1', port: 5432 }, { host: '127.0.0.1', port: 6379 }])
  })

  it('refuses forward with network host or none, naming the option and the reason', () => {
    refuses({ forward: [5432], network: 'host' }, /option `forward` needs network 'loopback' \(with network 'host' the sandbox already shares the host's network\)/)
    refuses({ forward: [5432], network: 'none' }, /option `forward` needs network 'loopback' \(with network 'none' it has no usable network\)/)
    assert.deepEqual(resolveOptions({ forward: [], network: 'host' }).forwards, [])
  })

  it('refuses bad values, every problem at once', () => {
    refuses({ forward: [70000, '10.1.1.1:80'] }, /option `forward`: port 70000 is not in 1-65535; option `forward`: "10.1.1.1:80": only the host's loopback/)
    refuses({ forward: [5432, 'localhost:5432'] }, /127\.0\.0\.1:5432 is listed twice/)
    refuses({ forward: '5432' }, /option `forward`: expected an array/)
    refuses({ forward: [true] }, /option `forward`: expected an array of ports/)
    refuses({ report: 'yes' }, /option `report`: expected true or false/)
    refuses({ reportIgnore: ['ok', ''] }, /option `reportIgnore`: expected an array of path globs/)
  })

  it('passes through pickSandboxOptions and the CLI', () => {
    assert.deepEqual(pickSandboxOptions({ report: true, reportIgnore: ['x'], forward: [1], other: 1 } as never), { report: true, reportIgnore: ['x'], forward: [1] })
    const parsed = parseRunArguments(['--forward', '5432', '--forward', '127.0.0.1:6379', '--report-json', 'r.json', '--report-ignore', '*.log', '--', 'true'])
    assert.deepEqual(parsed.options.forward, ['5432', '127.0.0.1:6379'])
    assert.equal(parsed.options.report, true)
    assert.deepEqual(parsed.options.reportIgnore, ['*.log'])
    assert.equal(parsed.reportJson, 'r.json')
    assert.equal(parsed.reportSummary, false)
    const summary = parseRunArguments(['--report', '--', 'true'])
    assert.equal(summary.reportSummary, true)
    assert.equal(summary.options.report, true)
    assert.equal(parseRunArguments(['--', 'true']).options.report, undefined)
  })
})
