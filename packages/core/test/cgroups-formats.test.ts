/** Pure parts of cgroup management: file formats, /proc parsing, hierarchy choice, limit validation. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { buildCgroupHost, cgroupDir, hierarchyFor, hostVersion } from '../src/host/cgroups/detect.js'
import type { HostInputs } from '../src/host/cgroups/detect.js'
import {
  cpuQuotaMicros, formatCpuMax, isSafeIdPart, parseControllerList, parseCgroupMounts, parseCpuMax, parseFlatKeyed,
  parseHostLeafName, parseMemoryEvents, parseOomControl, parsePidList, parsePidsEvents, parseProcCgroup,
  parseProcStatState, parseRunDirName, parseSingleValue, runDirName
} from '../src/host/cgroups/formats.js'
import { neededControllers, planHierarchies } from '../src/host/cgroups/sandbox.js'
import { isSandboxError } from '../src/errors.js'

const HYBRID_MOUNTINFO = `22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`
const HYBRID_PROC_CGROUP = `12:pids:/user.slice
9:name=systemd:/user.slice/session-2.scope
4:memory:/process_api/abc
2:cpu,cpuacct:/
0::/user.slice/session-2.scope
`
const V2_MOUNTINFO = '30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n'

function inputs (overrides: Partial<HostInputs>): HostInputs {
  return {
    mountinfo: HYBRID_MOUNTINFO,
    procCgroup: HYBRID_PROC_CGROUP,
    uid: 1000,
    pid: 4242,
    env: {},
    readV2Controllers: () => [],
    ...overrides
  }
}

function assertCode (fn: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isSandboxError(error), `expected a SandboxError, got ${String(error)}`)
    assert.equal(error.code, code)
    if (pattern !== undefined) assert.match(error.describe(), pattern)
    return true
  })
}

describe('cgroup file formats', () => {
  test('/proc/self/cgroup: v1, named, co-mounted and v2 lines; paths with colons', () => {
    assert.deepEqual(parseProcCgroup(HYBRID_PROC_CGROUP), [
      { hierarchyId: 12, controllers: ['pids'], path: '/user.slice' },
      { hierarchyId: 9, controllers: ['name=systemd'], path: '/user.slice/session-2.scope' },
      { hierarchyId: 4, controllers: ['memory'], path: '/process_api/abc' },
      { hierarchyId: 2, controllers: ['cpu', 'cpuacct'], path: '/' },
      { hierarchyId: 0, controllers: [], path: '/user.slice/session-2.scope' }
    ])
    assert.deepEqual(parseProcCgroup('0::/\n'), [{ hierarchyId: 0, controllers: [], path: '/' }])
    assert.deepEqual(parseProcCgroup('0::/a:b/c'), [{ hierarchyId: 0, controllers: [], path: '/a:b/c' }])
    assert.deepEqual(parseProcCgroup('\n\ngarbage\n'), [])
  })

  test('mountinfo: cgroup and cgroup2 mounts with their controllers, escapes undone', () => {
    const mounts = parseCgroupMounts(HYBRID_MOUNTINFO)
    assert.deepEqual(mounts.map((m) => [m.version, m.mountPoint, m.controllers]), [
      [1, '/sys/fs/cgroup/cpu,cpuacct', ['cpu', 'cpuacct']],
      [1, '/sys/fs/cgroup/memory', ['memory']],
      [1, '/sys/fs/cgroup/pids', ['pids']],
      [1, '/sys/fs/cgroup/systemd', ['name=systemd']],
      [2, '/sys/fs/cgroup/unified', []]
    ])
    const escaped = parseCgroupMounts('50 1 0:40 /a\\040b /mnt/cg\\040x rw - cgroup2 none rw\n')
    assert.equal(escaped[0]?.mountPoint, '/mnt/cg x')
    assert.equal(escaped[0]?.root, '/a b')
  })

  test('cgroup.controllers / cgroup.subtree_control', () => {
    assert.deepEqual(parseControllerList('cpuset cpu io memory hugetlb pids rdma misc\n'), ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'])
    assert.deepEqual(parseControllerList('\n'), [])
    assert.deepEqual(parseControllerList(''), [])
  })

  test('memory.events (v2), with and without oom_kill', () => {
    const text = 'low 0\nhigh 3\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n'
    assert.deepEqual(parseMemoryEvents(text), { low: 0, high: 3, max: 17, oom: 2, oomKill: 1, oomGroupKill: 0 })
    assert.equal(parseMemoryEvents('low 0\nhigh 0\nmax 0\noom 0\n').oomKill, 0)
    assert.equal(parseMemoryEvents('').oomKill, 0)
  })

  test('pids.events: max N; absent -> 0; extra keys ignored', () => {
    assert.equal(parsePidsEvents('max 5\n'), 5)
    assert.equal(parsePidsEvents('max 7\nmax.imposed 9\n'), 7)
    assert.equal(parsePidsEvents(''), 0)
  })

  test('v1 memory.oom_control: oom_kill only since kernel 4.13', () => {
    assert.deepEqual(parseOomControl('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n'), { oomKillDisable: false, underOom: false, oomKill: 3 })
    assert.deepEqual(parseOomControl('oom_kill_disable 1\nunder_oom 1'), { oomKillDisable: true, underOom: true, oomKill: undefined })
  })

  test('flat keyed files skip malformed lines', () => {
    assert.deepEqual([...parseFlatKeyed('a 1\nb two\n c  3 \n\nd\n')], [['a', 1], ['c', 3]])
  })

  test('single values: numbers, max, junk', () => {
    assert.equal(parseSingleValue('33554432\n'), 33554432)
    assert.equal(parseSingleValue('max\n'), 'max')
    assert.equal(parseSingleValue(''), undefined)
    assert.equal(parseSingleValue('-1'), undefined)
  })

  test('cpu quota from cores', () => {
    assert.equal(cpuQuotaMicros(1), 100000)
    assert.equal(cpuQuotaMicros(0.5), 50000)
    assert.equal(cpuQuotaMicros(2.345), 234500)
    assert.equal(cpuQuotaMicros(1 / 3), 33333)
    assert.equal(cpuQuotaMicros(0.01), 1000)
    assert.equal(cpuQuotaMicros(0.009), undefined)
    assert.equal(cpuQuotaMicros(0), undefined)
    assert.equal(cpuQuotaMicros(-1), undefined)
    assert.equal(cpuQuotaMicros(Number.NaN), undefined)
    assert.equal(cpuQuotaMicros(Number.POSITIVE_INFINITY), undefined)
    assert.equal(formatCpuMax(1.5), '150000 100000')
    assert.throws(() => formatCpuMax(0), RangeError)
    assert.deepEqual(parseCpuMax('max 100000\n'), { quota: 'max', period: 100000 })
    assert.deepEqual(parseCpuMax('50000 100000'), { quota: 50000, period: 100000 })
  })

  test('cgroup.procs and /proc/<pid>/stat', () => {
    assert.deepEqual(parsePidList('12\n345\n\n'), [12, 345])
    assert.deepEqual(parsePidList(''), [])
    assert.equal(parseProcStatState('123 (a) b) Z 1 2 3'), 'Z')
    assert.equal(parseProcStatState('123 (sleep) S 1 2 3'), 'S')
  })

  test('directory names round-trip; unsafe ids refused', () => {
    assert.equal(runDirName(1000, '12345-987654'), 'ns-sandbox-1000-run-12345-987654')
    assert.deepEqual(parseRunDirName('ns-sandbox-1000-run-12345-987654'), { uid: 1000, runId: '12345-987654' })
    assert.equal(parseRunDirName('ns-sandbox-test-deleg-1'), undefined)
    assert.deepEqual(parseHostLeafName('ns-sandbox-0-host-77'), { uid: 0, pid: 77 })
    assert.equal(isSafeIdPart('12345-987654'), true)
    for (const bad of ['', '.', '..', 'a/b', 'a b', 'x'.repeat(129)]) assert.equal(isSafeIdPart(bad), false, bad)
  })
})

describe('hierarchy detection (from texts)', () => {
  test('hybrid: memory/pids/cpu from v1, own paths mapped to directories', () => {
    const host = buildCgroupHost(inputs({ readV2Controllers: () => ['hugetlb'] }))
    assert.equal(hostVersion(host), 1)
    const memory = hierarchyFor(host, 'memory')
    assert.equal(memory?.version, 1)
    assert.equal(memory?.ownPath, '/process_api/abc')
    assert.equal(cgroupDir(memory!, memory!.ownPath!), '/sys/fs/cgroup/memory/process_api/abc')
    const cpu = hierarchyFor(host, 'cpu')
    assert.equal(cpu?.mountPoint, '/sys/fs/cgroup/cpu,cpuacct')
    assert.equal(cgroupDir(cpu!, cpu!.ownPath!), '/sys/fs/cgroup/cpu,cpuacct')
    assert.equal(hierarchyFor(host, 'pids')?.ownPath, '/user.slice')
    const v2 = host.hierarchies.find((h) => h.version === 2)
    assert.equal(v2?.ownPath, '/user.slice/session-2.scope')
    assert.deepEqual(v2?.controllers, ['hugetlb'])
  })

  test('a controller not mounted as v1 comes from cgroup2', () => {
    const mountinfo = HYBRID_MOUNTINFO.split('\n').filter((line) => !line.includes(' rw,pids')).join('\n')
    const host = buildCgroupHost(inputs({ mountinfo, readV2Controllers: () => ['pids'] }))
    assert.equal(hierarchyFor(host, 'pids')?.version, 2)
    assert.equal(hierarchyFor(host, 'memory')?.version, 1)
    assert.deepEqual(planHierarchies(host, ['memory', 'pids']).map((p) => [p.h.version, p.controllers]), [[1, ['memory']], [2, ['pids']]])
  })

  test('pure v2', () => {
    const host = buildCgroupHost(inputs({
      mountinfo: V2_MOUNTINFO,
      procCgroup: '0::/user.slice/user-1000.slice/session-3.scope\n',
      readV2Controllers: () => ['cpuset', 'cpu', 'io', 'memory', 'pids']
    }))
    assert.equal(hostVersion(host), 2)
    const h = hierarchyFor(host, 'memory')
    assert.equal(h?.version, 2)
    assert.equal(cgroupDir(h!, h!.ownPath!), '/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope')
    assert.deepEqual(planHierarchies(host, ['memory', 'pids', 'cpu']).map((p) => p.controllers), [['memory', 'pids', 'cpu']])
  })

  test('pure v2 inside a container with a cgroup namespace: 0::/', () => {
    const host = buildCgroupHost(inputs({ mountinfo: V2_MOUNTINFO, procCgroup: '0::/\n', readV2Controllers: () => ['memory'] }))
    const h = hierarchyFor(host, 'memory')!
    assert.equal(cgroupDir(h, h.ownPath!), '/sys/fs/cgroup')
  })

  test('bind-mounted sub-cgroup: paths outside the mount root are not visible', () => {
    const host = buildCgroupHost(inputs({
      mountinfo: '30 24 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
      procCgroup: '0::/docker/abc/inner\n'
    }))
    const h = host.hierarchies[0]!
    assert.equal(cgroupDir(h, '/docker/abc/inner'), '/sys/fs/cgroup/inner')
    assert.equal(cgroupDir(h, '/docker/abc'), '/sys/fs/cgroup')
    assert.equal(cgroupDir(h, '/other'), undefined)
  })

  test('duplicate mounts of one hierarchy: the /sys/fs/cgroup one wins', () => {
    const mountinfo = '90 1 0:32 / /mnt/memcg rw - cgroup cgroup rw,memory\n' + HYBRID_MOUNTINFO
    const host = buildCgroupHost(inputs({ mountinfo }))
    assert.equal(host.hierarchies.filter((h) => h.controllers.includes('memory')).length, 1)
    assert.equal(hierarchyFor(host, 'memory')?.mountPoint, '/sys/fs/cgroup/memory')
  })

  test('environment variables', () => {
    const host = buildCgroupHost(inputs({ env: { NS_SANDBOX_CGROUP_PARENT: 'ns-sandbox-ci/', NS_SANDBOX_CGROUP_MOVE_SELF: '1', NS_SANDBOX_CGROUP_ROOT: '/sys/fs/cgroup/unified/' } }))
    assert.equal(host.parentOverride, '/ns-sandbox-ci')
    assert.equal(host.moveSelf, true)
    assert.deepEqual(host.hierarchies.map((h) => h.mountPoint), ['/sys/fs/cgroup/unified'])
    assert.equal(hostVersion(host), 2)
    assertCode(() => buildCgroupHost(inputs({ env: { NS_SANDBOX_CGROUP_ROOT: '/tmp' } })), 'NSB_CGROUP_UNAVAILABLE', /NS_SANDBOX_CGROUP_ROOT=\/tmp/)
  })

  test('no cgroup mounts: version none, limits unavailable', () => {
    const host = buildCgroupHost(inputs({ mountinfo: '22 1 0:21 / /sys rw - sysfs sysfs rw\n', procCgroup: '' }))
    assert.equal(hostVersion(host), 'none')
    assertCode(() => planHierarchies(host, ['memory']), 'NSB_CGROUP_UNAVAILABLE', /no cgroup or cgroup2 filesystem is mounted/)
  })

  test('controller missing: v1 without that hierarchy and v2 without the controller', () => {
    const host = buildCgroupHost(inputs({ readV2Controllers: () => ['hugetlb'], mountinfo: HYBRID_MOUNTINFO.replace(/^.* rw,memory\n/m, '') }))
    assertCode(() => planHierarchies(host, ['memory']), 'NSB_CGROUP_CONTROLLER_MISSING', /"memory" controller.*not in \/sys\/fs\/cgroup\/unified\/cgroup.controllers[\s\S]*cgroup_enable=memory/)
    const v1only = buildCgroupHost(inputs({ mountinfo: HYBRID_MOUNTINFO.replace(/^.*cgroup2.*\n/m, '').replace(/^.* rw,pids\n/m, '') }))
    assertCode(() => planHierarchies(v1only, ['pids']), 'NSB_CGROUP_CONTROLLER_MISSING', /no cgroup v1 hierarchy has it mounted[\s\S]*mount -t cgroup -o pids/)
  })
})

describe('limit validation', () => {
  test('controllers needed by each limit', () => {
    assert.deepEqual(neededControllers({}), [])
    assert.deepEqual(neededControllers({ memoryBytes: 1 << 20, pids: 1, cpus: 0.01 }), ['memory', 'pids', 'cpu'])
    assert.deepEqual(neededControllers({ cpus: 2 }), ['cpu'])
  })

  test('bad values are NSB_INVALID_OPTION, never silently ignored', () => {
    for (const limits of [{ memoryBytes: 0 }, { memoryBytes: 1.5 }, { pids: -1 }, { pids: 0 }, { cpus: 0 }, { cpus: 0.001 }, { cpus: Number.NaN }]) {
      assertCode(() => neededControllers(limits), 'NSB_INVALID_OPTION')
    }
  })
})
