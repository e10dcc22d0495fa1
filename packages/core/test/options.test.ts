import assert from 'node:assert/strict'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { parseRunArguments } from '../src/cli/run-command.js'
import { SandboxError } from '../src/errors.js'
import { pickSandboxOptions } from '../src/host/spawn-options.js'
import { DEFAULT_MASK, resolveOptions } from '../src/options/schema.js'
import { formatByteSize, parseByteSize, parseDuration } from '../src/options/units.js'

function rejects (options: Record<string, unknown>, pattern: RegExp): void {
  assert.throws(() => resolveOptions(options as never), (error: unknown) =>
    error instanceof SandboxError && error.code === 'NSB_INVALID_OPTION' && pattern.test(error.message))
}

describe('resolveOptions', () => {
  it('fills in the defaults', () => {
    const resolved = resolveOptions({}, '/home/me', '/home/me')
    assert.equal(resolved.hostname, 'ns-sandbox')
    assert.equal(resolved.network, 'loopback')
    assert.equal(resolved.rootfs, 'host')
    assert.equal(resolved.root, false)
    assert.equal(resolved.memoryBytes, undefined)
    assert.deepEqual(resolved.mask, DEFAULT_MASK.map((p) => p.replace('~', '/home/me')))
  })

  it('masks the credentials under $HOME and under the passwd home, whatever HOME says', () => {
    const under = (...homes: string[]): string[] => DEFAULT_MASK.flatMap((p) => homes.map((home) => p.replace('~', home)))
    assert.deepEqual(resolveOptions({}, '/tmp', '/home/me').mask, under('/tmp', '/home/me'))
    // HOME=/ or empty (os.homedir() answers '' then) is no home to mask; the account's still is.
    assert.deepEqual(resolveOptions({}, '/', '/home/me').mask, under('/home/me'))
    assert.deepEqual(resolveOptions({}, '', '/home/me').mask, under('/home/me'))
    assert.deepEqual(resolveOptions({}, '/home/me/', '/home/me').mask, under('/home/me'))
    // A uid without a passwd entry (accountHome() is undefined then, which the default parameter would replace): $HOME alone.
    assert.deepEqual(resolveOptions({}, '/home/me', '').mask, under('/home/me'))
    // By default the account is the one passwd gives this process's uid, not $HOME.
    assert.ok(resolveOptions({}, '/').mask.includes(path.join(os.userInfo().homedir, '.ssh')))
  })

  it('adds `mask` to the default list; `defaultMask: false` (CLI --no-mask) drops the defaults', () => {
    const defaults = DEFAULT_MASK.map((p) => p.replace('~', '/home/me'))
    assert.deepEqual(resolveOptions({ mask: ['~/secret', '/srv/key'] }, '/home/me', '/home/me').mask, [...defaults, '/home/me/secret', '/srv/key'])
    assert.deepEqual(resolveOptions({ mask: ['~/secret'] }, '/tmp', '/home/me').mask.slice(-2), ['/tmp/secret', '/home/me/secret'])
    assert.deepEqual(resolveOptions({ mask: [] }, '/home/me', '/home/me').mask, defaults)
    assert.deepEqual(resolveOptions({ mask: ['/srv/key'], defaultMask: false }, '/home/me', '/home/me').mask, ['/srv/key'])
    assert.deepEqual(resolveOptions({ defaultMask: false }, '/home/me', '/home/me').mask, [])
    assert.deepEqual(resolveOptions({ mask: ['/srv/key', '/srv/key/'], defaultMask: false }, '/home/me', '/home/me').mask, ['/srv/key'])
    rejects({ defaultMask: 'no' }, /`defaultMask`: expected true or false/)
    // The CLI: --mask adds, --no-mask drops the defaults.
    const cli = (...args: string[]): string[] => resolveOptions(pickSandboxOptions(parseRunArguments([...args, '--', 'true']).options as never), '/home/me', '/home/me').mask
    assert.deepEqual(cli('--mask', '/srv/key'), [...defaults, '/srv/key'])
    assert.deepEqual(cli('--no-mask'), [])
    assert.deepEqual(cli('--no-mask', '--mask', '/srv/key'), ['/srv/key'])
  })

  it('parses sizes, cpus, durations and bind specs', () => {
    const resolved = resolveOptions({ memory: '512MiB', cpus: '1.5', timeout: '2m', pids: 64, bind: ['/a:/b:ro', '/c', { source: '~/d' }] }, '/home/me')
    assert.equal(resolved.memoryBytes, 512 * 1024 * 1024)
    assert.equal(resolved.cpus, 1.5)
    assert.equal(resolved.timeoutMs, 120_000)
    assert.equal(resolved.pids, 64)
    assert.deepEqual(resolved.binds, [
      { source: '/a', target: '/b', readonly: true },
      { source: '/c', target: '/c', readonly: false },
      { source: '/home/me/d', target: '/home/me/d', readonly: false }
    ])
  })

  it('reads a \\: in a bind string as a colon of the path', () => {
    const binds = (...specs: string[]): unknown => resolveOptions({ bind: specs }, '/home/me').binds
    assert.deepEqual(binds('/srv/a\\:b'), [{ source: '/srv/a:b', target: '/srv/a:b', readonly: false }])
    assert.deepEqual(binds('/srv/a\\:b:/mnt/c\\:d:ro'), [{ source: '/srv/a:b', target: '/mnt/c:d', readonly: true }])
    assert.deepEqual(binds('/srv/x\\:ro:/data'), [{ source: '/srv/x:ro', target: '/data', readonly: false }])
    // \\ is a backslash that ends a path; any other backslash stays as it is.
    assert.deepEqual(binds('/srv/back\\\\:/data:rw'), [{ source: '/srv/back\\', target: '/data', readonly: false }])
    assert.deepEqual(binds('/srv/a\\b'), [{ source: '/srv/a\\b', target: '/srv/a\\b', readonly: false }])
    assert.deepEqual(resolveOptions({ bind: [{ source: '/srv/a:b', target: '/mnt/c:d' }] }, '/home/me').binds, [{ source: '/srv/a:b', target: '/mnt/c:d', readonly: false }])
  })

  it('names the option and the accepted forms for each bad value', () => {
    rejects({ memory: 'lots' }, /`memory`.*512MiB/)
    rejects({ memory: -5 }, /`memory`/)
    rejects({ memory: '512' }, /`memory`: expected a size of at least 1MiB .*a bare number is bytes/)
    rejects({ memory: '1023KiB' }, /`memory`/)
    assert.equal(resolveOptions({ memory: '1MiB' }).memoryBytes, 1024 * 1024)
    rejects({ network: 'wifi' }, /`network`.*loopback.*none.*host/)
    rejects({ pids: 0 }, /`pids`.*at least 1/)
    rejects({ pids: 2.5 }, /`pids`/)
    rejects({ cpus: 'fast' }, /`cpus`.*1\.5/)
    rejects({ cpus: 0 }, /`cpus`/)
    rejects({ timeout: '5 years' }, /`timeout`.*30s/)
    // Node's timers overflow past 2^31-1 ms and fire after 1 ms: refused, not a kill at once.
    rejects({ timeout: '99999999999999s' }, /`timeout`: at most 2147483647ms .*leave it unset for no limit/)
    rejects({ timeout: 2 ** 31 }, /`timeout`: at most 2147483647ms/)
    assert.equal(resolveOptions({ timeout: 2 ** 31 - 1 }).timeoutMs, 2 ** 31 - 1)
    rejects({ hostname: 'bad host!' }, /`hostname`/)
    rejects({ writable: ['relative/path'] }, /`writable`.*absolute/)
    rejects({ bind: ['a:b:c:d'] }, /`bind`: expected strings src\[:dst\[:ro\|rw\]\] .*a ':' in a path is written '\\:'/)
    rejects({ bind: ['/a/b\\'] }, /`bind`/)
    rejects({ root: 'yes' }, /`root`/)
    rejects({ memroy: '1GiB' }, /unknown option `memroy`/)
  })

  it('reports every problem at once', () => {
    assert.throws(() => resolveOptions({ memory: 'x', network: 'y' } as never), (error: unknown) =>
      error instanceof SandboxError && /memory/.test(error.message) && /network/.test(error.message))
  })
})

describe('units', () => {
  it('reads byte sizes in both unit families', () => {
    assert.equal(parseByteSize('512MiB'), 536870912)
    assert.equal(parseByteSize('512MB'), 512_000_000)
    assert.equal(parseByteSize('1.5 GiB'), 1610612736)
    assert.equal(parseByteSize('4096'), 4096)
    assert.equal(parseByteSize(0), undefined)
    assert.equal(parseByteSize('12 parsecs'), undefined)
    assert.equal(formatByteSize(536870912), '512 MiB')
  })

  it('reads durations', () => {
    assert.equal(parseDuration('30s'), 30_000)
    assert.equal(parseDuration('500ms'), 500)
    assert.equal(parseDuration('1.5h'), 5_400_000)
    assert.equal(parseDuration(250), 250)
    assert.equal(parseDuration('soon'), undefined)
  })
})
