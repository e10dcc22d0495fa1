import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildMountPlan, directoriesToList, hostPathOfLayer, layerId, PlanError, type MountStep, type PlanInput } from '../src/plan/mount-plan.js'
import { parseMountInfo } from '../src/plan/mountinfo.js'

const MOUNTINFO = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
28 27 0:25 / /mnt/tools/python ro,nosuid - tmpfs tools ro
29 27 0:26 / /home rw - ext4 /dev/vdb rw
30 27 0:27 / /tmp rw - tmpfs tmpfs rw
`

/** tmpfsSize: every writable tmpfs of the sandbox gets it. */
const SIZE = 3 * 1024 * 1024 * 1024

function input (overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    rootDir: '/scratch/1/root',
    layersDir: '/scratch/1/layers',
    readonly: false,
    tmpfsSizeBytes: SIZE,
    mounts: parseMountInfo(MOUNTINFO),
    listings: {
      '/': [
        { name: 'bin', kind: 'symlink', linkTarget: 'usr/bin' },
        { name: 'dev', kind: 'dir' }, { name: 'etc', kind: 'dir' }, { name: 'home', kind: 'dir' },
        { name: 'mnt', kind: 'dir' }, { name: 'proc', kind: 'dir' }, { name: 'sys', kind: 'dir' },
        { name: 'tmp', kind: 'dir' }, { name: 'usr', kind: 'dir' }, { name: 'var', kind: 'dir' },
        { name: '.dockerenv', kind: 'file' }
      ],
      '/mnt': [{ name: 'tools', kind: 'dir' }, { name: 'notes.txt', kind: 'file' }],
      '/mnt/tools': [{ name: 'python', kind: 'dir' }]
    },
    pathKinds: {},
    binds: [],
    writable: [],
    mask: [],
    keep: [],
    exclude: [],
    devices: ['/dev/null', '/dev/zero'],
    ownNetwork: true,
    ...overrides
  }
}

const targets = (plan: MountStep[], op: MountStep['op']): string[] =>
  plan.filter((s) => s.op === op).map((s) => ('target' in s ? s.target : s.path))

describe('buildMountPlan (host view)', () => {
  it('starts with a tmpfs root and overlays each top-level directory without submounts', () => {
    const plan = buildMountPlan(input())
    assert.deepEqual(plan[2], { op: 'tmpfs', target: '/scratch/1/root', mode: '0755', size: SIZE })
    const overlays = plan.filter((s) => s.op === 'overlay')
    assert.deepEqual(overlays.map((s) => s.lower), ['/etc', '/home', '/mnt/tools/python', '/usr', '/var'])
    assert.deepEqual(overlays.find((s) => s.lower === '/usr'),
      { op: 'overlay', target: '/scratch/1/root/usr', lower: '/usr', upper: '/scratch/1/layers/upper/usr', work: '/scratch/1/layers/work/usr' })
  })

  it('recreates symlinks, binds files read-only and never overlays a directory holding mount points', () => {
    const plan = buildMountPlan(input())
    assert.ok(plan.some((s) => s.op === 'symlink' && s.path === '/scratch/1/root/bin' && s.linkTarget === 'usr/bin'))
    assert.ok(plan.some((s) => s.op === 'bind' && s.source === '/.dockerenv' && s.readonly))
    assert.ok(plan.some((s) => s.op === 'bind' && s.source === '/mnt/notes.txt' && s.readonly))
    assert.ok(!plan.some((s) => s.op === 'overlay' && (s.lower === '/mnt' || s.lower === '/mnt/tools')))
    assert.ok(plan.some((s) => s.op === 'mkdir' && s.path === '/scratch/1/root/mnt/tools'))
  })

  it('replaces /proc, /dev, /sys, /tmp, /run and /var/tmp with fresh filesystems', () => {
    const plan = buildMountPlan(input())
    assert.deepEqual(targets(plan, 'proc'), ['/scratch/1/root/proc'])
    assert.deepEqual(targets(plan, 'sysfs'), ['/scratch/1/root/sys'])
    assert.deepEqual(targets(plan, 'devpts'), ['/scratch/1/root/dev/pts'])
    assert.deepEqual(targets(plan, 'tmpfs'), ['/scratch/1/layers', '/scratch/1/root', '/scratch/1/root/dev', '/scratch/1/root/dev/shm',
      '/scratch/1/root/tmp', '/scratch/1/root/run', '/scratch/1/root/var/tmp'])
    assert.ok(!plan.some((s) => s.op === 'overlay' && ['/proc', '/sys', '/dev', '/tmp'].includes(s.lower)))
    assert.ok(plan.some((s) => s.op === 'bind' && s.source === '/dev/null' && s.target === '/scratch/1/root/dev/null'))
    // /var/tmp's tmpfs comes after /var's overlay
    const varIndex = plan.findIndex((s) => s.op === 'overlay' && s.lower === '/var')
    const varTmpIndex = plan.findIndex((s) => s.op === 'tmpfs' && s.target.endsWith('/var/tmp'))
    assert.ok(varIndex >= 0 && varTmpIndex > varIndex)
  })

  it('makes a plain directory, not an overlay, for an empty host directory', () => {
    const plan = buildMountPlan(input({ emptyDirs: ['/home'] }))
    assert.ok(!plan.some((s) => s.op === 'overlay' && s.lower === '/home'))
    assert.ok(plan.some((s) => s.op === 'mkdir' && s.path === '/scratch/1/root/home'))
    assert.ok(buildMountPlan(input({ emptyDirs: ['/home'], readonly: true })).some((s) => s.op === 'bind' && s.source === '/home'))
  })

  it('uses read-only binds instead of overlays in readonly mode', () => {
    const plan = buildMountPlan(input({ readonly: true }))
    assert.equal(plan.filter((s) => s.op === 'overlay').length, 0)
    assert.ok(plan.some((s) => s.op === 'bind' && s.source === '/usr' && s.readonly))
  })

  it('keeps a working directory under /tmp visible (copy-on-write) but not one already in view', () => {
    const plan = buildMountPlan(input({ keep: ['/tmp/project/sub', '/tmp/project', '/usr/bin/node'], pathKinds: { '/tmp/project': 'dir', '/tmp/project/sub': 'dir', '/usr/bin/node': 'file' } }))
    const keepOverlays = plan.filter((s): s is Extract<MountStep, { op: 'overlay' }> => s.op === 'overlay' && s.lower.startsWith('/tmp'))
    assert.deepEqual(keepOverlays.map((s) => s.lower), ['/tmp/project'])
    const tmpIndex = plan.findIndex((s) => s.op === 'tmpfs' && s.target === '/scratch/1/root/tmp')
    assert.ok(plan.indexOf(keepOverlays[0] as MountStep) > tmpIndex)
    assert.ok(!plan.some((s) => s.op === 'bind' && s.source === '/usr/bin/node'))
  })

  it('never overlays a directory that contains the scratch directory', () => {
    const plan = buildMountPlan(input({
      exclude: ['/var/scratch'],
      listings: { ...input().listings, '/var': [{ name: 'lib', kind: 'dir' }, { name: 'scratch', kind: 'dir' }] }
    }))
    assert.ok(!plan.some((s) => s.op === 'overlay' && s.lower === '/var'))
    assert.ok(plan.some((s) => s.op === 'overlay' && s.lower === '/var/lib'))
    assert.ok(!plan.some((s) => s.op === 'overlay' && s.lower === '/var/scratch'))
    assert.ok(plan.some((s) => s.op === 'mkdir' && s.path === '/scratch/1/root/var/scratch'))
  })

  it('binds, live paths and masks come last, masks after everything', () => {
    const plan = buildMountPlan(input({
      binds: [{ source: '/opt/data', target: '/data', readonly: true }],
      writable: ['/home/me/project/.cache'],
      mask: ['/home/me/.ssh', '/home/me/.npmrc', '/home/me/.aws', '/root/.kube'],
      pathKinds: { '/opt/data': 'dir', '/home/me/project/.cache': 'dir', '/home/me/.ssh': 'dir', '/home/me/.npmrc': 'file', '/home/me/.aws': 'missing', '/root/.kube': 'unreachable' }
    }))
    const last = plan.slice(-6)
    assert.deepEqual(last, [
      { op: 'mkdir', path: '/scratch/1/root/data' },
      { op: 'bind', source: '/opt/data', target: '/scratch/1/root/data', readonly: true },
      { op: 'mkdir', path: '/scratch/1/root/home/me/project/.cache' },
      { op: 'bind', source: '/home/me/project/.cache', target: '/scratch/1/root/home/me/project/.cache', readonly: false },
      { op: 'tmpfs', target: '/scratch/1/root/home/me/.ssh', mode: '0000', size: 4096, readonly: true },
      { op: 'bind', source: '/dev/null', target: '/scratch/1/root/home/me/.npmrc', readonly: true }
    ])
  })

  it('binds the generated /etc/hosts over the view\'s, after the views and before declared binds and masks', () => {
    const hosts = { file: '/scratch/1/hosts', existing: 'file' } as const
    const plan = buildMountPlan(input({
      hosts,
      binds: [{ source: '/opt/etc', target: '/etc', readonly: true }],
      mask: ['/home/me/.npmrc'],
      pathKinds: { '/opt/etc': 'dir', '/home/me/.npmrc': 'file' }
    }))
    const bound = plan.findIndex((s) => s.op === 'bind' && s.source === '/scratch/1/hosts')
    assert.deepEqual(plan.slice(bound - 1, bound + 1), [
      { op: 'file', path: '/scratch/1/root/etc/hosts' },
      { op: 'bind', source: '/scratch/1/hosts', target: '/scratch/1/root/etc/hosts', readonly: false }
    ])
    assert.ok(plan.findIndex((s) => s.op === 'overlay' && s.lower === '/etc') < bound)
    assert.ok(plan.findIndex((s) => s.op === 'bind' && s.source === '/opt/etc') > bound, 'a declared bind of /etc still wins')
    assert.ok(plan.findIndex((s) => s.op === 'bind' && s.target === '/scratch/1/root/home/me/.npmrc') > bound)
    // Read-only in a read-only view; none without a generated file.
    assert.ok(buildMountPlan(input({ hosts, readonly: true })).some((s) => s.op === 'bind' && s.source === '/scratch/1/hosts' && s.readonly))
    assert.ok(!buildMountPlan(input()).some((s) => 'target' in s && s.target === '/scratch/1/root/etc/hosts'))
  })

  it('creates /etc/hosts on a root filesystem that lacks it, unless it is read-only; leaves a symlink there alone', () => {
    const onRootfs = (existing: 'file' | 'missing' | 'other', readonly = false): MountStep[] =>
      buildMountPlan(input({ rootfsDir: '/cache/rootfs', listings: {}, readonly, hosts: { file: '/scratch/1/hosts', existing } }))
        .filter((s) => ('target' in s ? s.target : s.path) === '/scratch/1/root/etc/hosts')
    const made = [{ op: 'file', path: '/scratch/1/root/etc/hosts' }, { op: 'bind', source: '/scratch/1/hosts', target: '/scratch/1/root/etc/hosts', readonly: false }]
    assert.deepEqual(onRootfs('missing'), made)
    assert.deepEqual(onRootfs('file'), made)
    assert.deepEqual(onRootfs('missing', true), [], 'no mount point can be made in a read-only root')
    assert.deepEqual(onRootfs('other'), [])
  })

  it('refuses a bind or live path that does not exist, or that the caller cannot reach', () => {
    assert.throws(() => buildMountPlan(input({ writable: ['/nope'], pathKinds: { '/nope': 'missing' } })),
      (error: unknown) => error instanceof PlanError && /writable.*\/nope does not exist/.test(error.message))
    assert.throws(() => buildMountPlan(input({ binds: [{ source: '/root/data', target: '/data', readonly: true }], pathKinds: { '/root/data': 'unreachable' } })),
      (error: unknown) => error instanceof PlanError && /option `bind`: \/root\/data is not accessible to you on the host/.test(error.message))
  })

  it('lays a root filesystem from an archive as the overlay root, with keep paths on top', () => {
    const plan = buildMountPlan(input({ rootfsDir: '/cache/sha256-abc/rootfs', listings: {}, keep: ['/work/proj'], pathKinds: { '/work/proj': 'dir' } }))
    assert.deepEqual(plan[2], { op: 'overlay', target: '/scratch/1/root', lower: '/cache/sha256-abc/rootfs', upper: '/scratch/1/layers/upper/rootfs', work: '/scratch/1/layers/work/rootfs' })
    assert.ok(plan.some((s) => s.op === 'overlay' && s.lower === '/work/proj' && s.target === '/scratch/1/root/work/proj'))
  })

  it('keeps a fresh /tmp even when it is the working directory, also on a root filesystem', () => {
    for (const rootfsDir of [undefined, '/cache/rootfs']) {
      const plan = buildMountPlan(input({ rootfsDir, keep: ['/tmp'], pathKinds: { '/tmp': 'dir' } }))
      assert.ok(!plan.some((s) => s.op === 'overlay' && s.lower === '/tmp'), String(rootfsDir))
    }
  })

  it('lists exactly the directories leading to mount points', () => {
    assert.deepEqual(directoriesToList({ mounts: parseMountInfo(MOUNTINFO), exclude: [] }), ['/', '/mnt', '/mnt/tools'])
  })

  it('for a report, binds /tmp, /run, /var/tmp and /dev/shm from fresh scratch directories instead of tmpfs mounts', () => {
    const plan = buildMountPlan(input({ freshDir: '/scratch/1/fresh', keep: ['/tmp/project'], pathKinds: { '/tmp/project': 'dir' } }))
    assert.deepEqual(targets(plan, 'tmpfs'), ['/scratch/1/root', '/scratch/1/root/dev'])
    for (const [area, mode] of [['/tmp', '1777'], ['/run', '0755'], ['/var/tmp', '1777'], ['/dev/shm', '1777']] as const) {
      const source = `/scratch/1/fresh/${layerId(area)}`
      const made = plan.findIndex((s) => s.op === 'mkdir' && s.path === source && s.mode === mode)
      const bound = plan.findIndex((s) => s.op === 'bind' && s.source === source && s.target === `/scratch/1/root${area}` && !s.readonly)
      assert.ok(made >= 0 && bound > made, area)
    }
    // the same steps otherwise, in the same order
    const withoutFresh = plan.filter((s) => !(s.op === 'bind' && s.source.startsWith('/scratch/1/fresh/')) && !(s.op === 'mkdir' && s.path.startsWith('/scratch/1/fresh/')))
    const plainWithKeep = buildMountPlan(input({ keep: ['/tmp/project'], pathKinds: { '/tmp/project': 'dir' } })).slice(2)
    assert.deepEqual(withoutFresh, plainWithKeep.filter((s) => !(s.op === 'tmpfs' && ['/tmp', '/run', '/var/tmp', '/dev/shm'].some((a) => s.target === `/scratch/1/root${a}`))))
    const bound = plan.findIndex((s) => s.op === 'bind' && s.target === '/scratch/1/root/tmp')
    assert.ok(plan.findIndex((s) => s.op === 'overlay' && s.lower === '/tmp/project') > bound)
    assert.equal(hostPathOfLayer(layerId('/var/tmp')), '/var/tmp')
  })

  it('puts the layers on a tmpfs of the sandbox\'s own, first, unless a report reads them afterwards', () => {
    const plan = buildMountPlan(input())
    assert.deepEqual(plan.slice(0, 2), [{ op: 'mkdir', path: '/scratch/1/layers', mode: '0700' }, { op: 'tmpfs', target: '/scratch/1/layers', mode: '0700', size: SIZE }])
    assert.ok(plan.filter((s) => s.op === 'overlay').every((s) => s.upper.startsWith('/scratch/1/layers/') && s.work.startsWith('/scratch/1/layers/')))
    const reported = buildMountPlan(input({ freshDir: '/scratch/1/fresh' }))
    assert.ok(!reported.some((s) => 'target' in s && s.target === '/scratch/1/layers'), 'the host reads a report\'s layers')
    const readonly = buildMountPlan(input({ readonly: true }))
    assert.ok(!readonly.some((s) => s.op === 'overlay') && !readonly.some((s) => 'target' in s && s.target === '/scratch/1/layers'), 'no overlay, no layers')
  })

  it('bounds every tmpfs: the writable ones by tmpfsSize, masks to a page (issue #16: none may take half the host\'s RAM)', () => {
    const plan = buildMountPlan(input({ pathKinds: { '/home/me/.ssh': 'dir' }, mask: ['/home/me/.ssh'] }))
    const sizes = plan.flatMap((step) => step.op === 'tmpfs' ? [[step.target, step.size]] : [])
    assert.deepEqual(sizes, [
      ['/scratch/1/layers', SIZE], ['/scratch/1/root', SIZE], ['/scratch/1/root/dev', SIZE], ['/scratch/1/root/dev/shm', SIZE],
      ['/scratch/1/root/tmp', SIZE], ['/scratch/1/root/run', SIZE], ['/scratch/1/root/var/tmp', SIZE], ['/scratch/1/root/home/me/.ssh', 4096]
    ])
  })

  it('maps layer ids back to host paths', () => {
    for (const p of ['/usr', '/mnt/tools/python', '/home/a b/c%d']) assert.equal(hostPathOfLayer(layerId(p)), p)
  })
})
