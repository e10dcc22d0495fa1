/** Which changes the report keeps, where it files them, how it prints them: pure parts. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { MountStep } from '../src/plan/mount-plan.js'
import { areaClassifier } from '../src/report/areas.js'
import { globToRegExp, pathMatcher } from '../src/report/glob.js'
import { planRules } from '../src/report/plan-paths.js'
import { formatReport } from '../src/report/summary.js'

describe('reportIgnore globs', () => {
  it('matches * and ? within a name, ** across directories (none included), [...] classes', () => {
    const cases: Array<[string, string, boolean]> = [
      ['/p/*.log', '/p/a.log', true], ['/p/*.log', '/p/sub/a.log', false],
      ['/p/**/*.log', '/p/a.log', true], ['/p/**/*.log', '/p/x/y/a.log', true],
      ['/p/**', '/p', true], ['/p/**', '/p/x/y', true], ['/p/**', '/pq', false],
      ['/tmp/?.txt', '/tmp/a.txt', true], ['/tmp/?.txt', '/tmp/ab.txt', false],
      ['/x/[ab].c', '/x/a.c', true], ['/x/[!ab].c', '/x/a.c', false], ['/x/[!ab].c', '/x/c.c', true],
      ['/a.b/(c)+', '/a.b/(c)+', true], ['/a.b', '/aXb', false]
    ]
    for (const [glob, target, expected] of cases) assert.equal(globToRegExp(glob).test(target), expected, `${glob} ~ ${target}`)
  })

  it('takes relative globs from the project and ignores whatever lies below a match', () => {
    const ignored = pathMatcher(['*.log', 'cache', '/tmp/nsb-*', '/home/me/.config/**'], '/work/p')
    assert.equal(ignored('/work/p/out.log'), true)
    assert.equal(ignored('/work/p/sub/out.log'), false)
    assert.equal(ignored('/work/p/cache/a/b'), true)
    assert.equal(ignored('/tmp/nsb-1/deep/file'), true)
    assert.equal(ignored('/home/me/.config'), true)
    assert.equal(ignored('/home/me/.bashrc'), false)
    assert.equal(pathMatcher([], '/')('/anything'), false)
  })
})

describe('report areas', () => {
  it('files a path under the most specific of project, $HOME, /etc and the temporary areas', () => {
    const areaOf = areaClassifier({ home: '/home/me', project: '/home/me/project' })
    assert.equal(areaOf('/home/me/project/a'), 'project')
    assert.equal(areaOf('/home/me/.bashrc'), 'home')
    assert.equal(areaOf('/etc/hosts'), 'etc')
    assert.equal(areaOf('/etcetera'), 'other')
    for (const p of ['/tmp/x', '/var/tmp/x', '/run/x', '/dev/shm/x']) assert.equal(areaOf(p), 'tmp')
    assert.equal(areaOf('/usr/lib/x'), 'other')
  })

  it('puts a project under /tmp in project, and a cwd of /tmp or / nowhere special', () => {
    assert.equal(areaClassifier({ home: '/root', project: '/tmp/nsb-project-1' })('/tmp/nsb-project-1/a'), 'project')
    assert.equal(areaClassifier({ home: '/root', project: '/tmp' })('/tmp/a'), 'tmp')
    assert.equal(areaClassifier({ home: '/root', project: '/' })('/usr/x'), 'other')
    assert.equal(areaClassifier({ home: '/home/me', project: '/home/me' })('/home/me/a'), 'project')
  })
})

describe('mount plan scaffolding', () => {
  it('knows the mount points and the directories made to reach them', () => {
    const plan: MountStep[] = [
      { op: 'tmpfs', target: '/s/root', mode: '0755', size: 1 },
      { op: 'mkdir', path: '/s/root/tmp' }, { op: 'bind', source: '/s/fresh/tmp', target: '/s/root/tmp', readonly: false },
      { op: 'mkdir', path: '/s/fresh/run', mode: '0755' },
      { op: 'mkdir', path: '/s/root/tmp/a/project' },
      { op: 'overlay', target: '/s/root/tmp/a/project', lower: '/tmp/a/project', upper: '/s/upper/x', work: '/s/work/x' }
    ]
    const rules = planRules(plan, '/s/root')
    assert.equal(rules.isMountPoint('/tmp/a/project'), true)
    assert.equal(rules.isMountPoint('/tmp/a'), false)
    assert.equal(rules.isPlanned('/tmp/a'), true)
    assert.equal(rules.isPlanned('/tmp/b'), false)
    assert.equal(rules.isPlanned('/s/fresh/run'), false)
  })
})

describe('report summary', () => {
  it('prints counts, then changes by area, processes, ports, limits and notes', () => {
    const text = formatReport({
      files: [
        { path: '/tmp/d', kind: 'created', area: 'tmp', type: 'dir', entries: 3 },
        { path: '/p/a.txt', kind: 'modified', area: 'project', type: 'file' },
        { path: '/etc/x', kind: 'deleted', area: 'etc', type: 'file' }
      ],
      processes: [{ pid: 7, argv: ['sleep', '1000'], command: 'sleep 1000' }],
      ports: [{ protocol: 'tcp', address: '::1', port: 8080 }],
      memoryPeakBytes: 48 * 1024 * 1024,
      limitHit: 'oom',
      notes: ['a note']
    })
    assert.equal(text, [
      'ns-sandbox report: 3 files changed, 1 process left running, 1 port listening, memory peak 48 MiB',
      '  project  modified  /p/a.txt',
      '  /etc     deleted   /etc/x',
      '  /tmp     created   /tmp/d/ (3 entries)',
      '  process  pid 7     sleep 1000',
      '  port     tcp       [::1]:8080',
      '  limit    memory limit hit (OOM kill)',
      '  note     a note',
      ''
    ].join('\n'))
  })

  it('shortens long change lists', () => {
    const files = Array.from({ length: 5 }, (_, i) => ({ path: `/p/${i}`, kind: 'created' as const, area: 'project' as const, type: 'file' as const }))
    const text = formatReport({ files, processes: [], ports: [], notes: [] }, { maxFiles: 2 })
    assert.match(text, /^ns-sandbox report: 5 files changed, 0 processes left running, 0 ports listening\n/)
    assert.match(text, /\.\.\. and 3 more/)
  })
})
