/** PID 1's configuration bytes (host/init-config.ts), as inside/init.pl reads them. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeInitConfig } from '../src/host/init-config.js'
import type { InitConfig } from '../src/protocol.js'

const base: InitConfig = {
  arch: 'x64',
  plan: [],
  rootDir: '/s/root',
  hostname: 'ns-sandbox',
  network: 'loopback',
  keepCapabilities: false,
  lastCapability: 40,
  cgroupProcs: [],
  report: false,
  resettable: false,
  layersDir: '/s/layers',
  restoreEnv: []
}

function tokens (bytes: Buffer): string[] {
  const length = Number(bytes.subarray(0, 10).toString())
  assert.equal(bytes.length, 10 + length, 'the length counts the bytes after it')
  const body = bytes.subarray(10).toString()
  assert.ok(body.endsWith('\0'))
  return body.slice(0, -1).split('\0')
}

describe('init config encoding', () => {
  it('writes a 10-digit byte length, then NUL-terminated keys and values', () => {
    assert.deepEqual(tokens(encodeInitConfig(base)),
      ['arch', 'x64', 'root', '/s/root', 'hostname', 'ns-sandbox', 'network', 'loopback', 'caps', 'drop', 'lastcap', '40', 'report', '', 'reset', '', 'layers', '/s/layers'])
  })

  it('repeats cgroup and env keys, and gives every step its op and fixed fields (empty for absent ones)', () => {
    const all = tokens(encodeInitConfig({
      ...base,
      keepCapabilities: true,
      report: true,
      cgroupProcs: ['/sys/fs/cgroup/memory/x/cgroup.procs', '/sys/fs/cgroup/pids/x/cgroup.procs'],
      restoreEnv: [['LC_ALL', '-'], ['PERL5OPT', '=-w']],
      plan: [
        { op: 'mkdir', path: '/r/a' },
        { op: 'mkdir', path: '/r/t', mode: '1777' },
        { op: 'tmpfs', target: '/r/tmp', mode: '1777', size: 1048576, readonly: true },
        { op: 'overlay', lower: '/etc', upper: '/l/u', work: '/l/w', target: '/r/etc' },
        { op: 'bind', source: '/ü, x:y', target: '/r/b', readonly: false },
        { op: 'symlink', linkTarget: 'usr/bin', path: '/r/bin' },
        { op: 'sysfs', target: '/r/sys', fresh: true }
      ]
    }))
    assert.deepEqual(all.slice(8, 14), ['caps', 'keep', 'lastcap', '40', 'report', '1'])
    assert.deepEqual(all.slice(14, 18), ['reset', '', 'layers', '/s/layers'])
    assert.deepEqual(all.slice(18), [
      'cgroup', '/sys/fs/cgroup/memory/x/cgroup.procs', 'cgroup', '/sys/fs/cgroup/pids/x/cgroup.procs',
      'env', 'LC_ALL', '-', 'env', 'PERL5OPT', '=-w',
      'step', 'mkdir', '/r/a', '',
      'step', 'mkdir', '/r/t', '1777',
      'step', 'tmpfs', '/r/tmp', '1777', '1', '1048576',
      'step', 'overlay', '/etc', '/l/u', '/l/w', '/r/etc',
      'step', 'bind', '/ü, x:y', '/r/b', '',
      'step', 'symlink', 'usr/bin', '/r/bin',
      'step', 'sysfs', '/r/sys', '1'
    ])
  })

  it('counts bytes, not characters', () => {
    const bytes = encodeInitConfig({ ...base, hostname: 'ü' })
    assert.equal(Number(bytes.subarray(0, 10).toString()), bytes.length - 10)
  })

  it('refuses a NUL byte, which would shift every token after it', () => {
    assert.throws(() => encodeInitConfig({ ...base, restoreEnv: [['X', '=a\0b']] }), /a NUL byte cannot cross to the sandbox's init/)
  })
})
