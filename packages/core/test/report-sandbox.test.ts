/** The side-effect report end to end: real sandboxes, for root and for an unprivileged user. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { identities, type Identity } from '../../../test/helpers/identity.js'
import type { FileChange, SandboxResult, SideEffectReport } from '../src/index.js'
import { CORE_DIR, sandboxSh, tempDirFor } from './helpers/cli.js'

interface Places { project: string, home: string, tag: string }

function setUpPlaces (who: Identity): { places: Places, remove: () => void } {
  const project = tempDirFor(who, 'nsb-report-project-')
  const home = tempDirFor(who, 'nsb-report-home-', who.home)
  const tag = `${process.pid}-${who.name}`
  for (const name of ['keep.txt', 'drop.txt', 'dir-to-replace/old.txt']) {
    fs.mkdirSync(path.dirname(path.join(project.dir, name)), { recursive: true })
    fs.writeFileSync(path.join(project.dir, name), 'host\n')
  }
  for (const name of ['settings', 'old-note']) fs.writeFileSync(path.join(home.dir, name), 'host\n')
  if (who.uid === 0) fs.writeFileSync(`/etc/nsb-report-old-${tag}`, 'host\n')
  spawnSync('chown', ['-R', `${who.uid}:${who.gid}`, project.dir, home.dir])
  return {
    places: { project: project.dir, home: home.dir, tag },
    remove: () => { project.remove(); home.remove(); fs.rmSync(`/etc/nsb-report-old-${tag}`, { force: true }) }
  }
}

function changesScript (who: Identity, { tag }: Places): string {
  return [
    'echo new > new.txt', 'echo more >> keep.txt', 'rm drop.txt', 'rm -r dir-to-replace', 'mkdir dir-to-replace',
    'echo new > ~/new-note', 'echo more >> ~/settings', 'rm ~/old-note',
    `echo tmp > /tmp/nsb-report-${tag}`, `mkdir /tmp/nsb-cache-${tag}`, `touch /tmp/nsb-cache-${tag}/a /tmp/nsb-cache-${tag}/b`, 'echo x > /var/tmp/nsb-var',
    ...(who.uid === 0 ? [`echo new > /etc/nsb-report-new-${tag}`, `rm /etc/nsb-report-old-${tag}`] : []),
    '(sleep 1001 &)',
    `${JSON.stringify(process.execPath)} -e 'require("net").createServer().listen(4567, "127.0.0.1"); require("dgram").createSocket("udp4").bind(5354, "127.0.0.1")' &`,
    'while ! grep -q ":11D7 00000000:0000 0A" /proc/net/tcp; do sleep 0.05; done',
    'exit 0'
  ].join('\n')
}

function find (report: SideEffectReport, target: string): Pick<FileChange, 'kind' | 'area' | 'type'> | undefined {
  const change = report.files.find((f) => f.path === target)
  return change === undefined ? undefined : { kind: change.kind, area: change.area, type: change.type }
}

for (const who of identities()) {
  describe(`side-effect report as ${who.name}`, () => {
    it('lists files created, modified and deleted by area, leftover processes and listening ports', () => {
      const { places, remove } = setUpPlaces(who)
      const { project, home, tag } = places
      try {
        const reportFile = path.join(project, 'report.json')
        const run = sandboxSh(who, ['--report', '--report-json', reportFile], changesScript(who, places), { cwd: project, env: { HOME: home } })
        assert.equal(run.status, 0, run.stderr)
        assert.match(run.stderr, /^ns-sandbox report: \d+ files changed, 2 processes left running, 2 ports listening/m)
        const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as SideEffectReport
        const expected: Record<string, ReturnType<typeof find>> = {
          [`${project}/new.txt`]: { kind: 'created', area: 'project', type: 'file' },
          [`${project}/keep.txt`]: { kind: 'modified', area: 'project', type: 'file' },
          [`${project}/drop.txt`]: { kind: 'deleted', area: 'project', type: 'file' },
          [`${project}/dir-to-replace`]: { kind: 'replaced', area: 'project', type: 'dir' },
          [`${home}/new-note`]: { kind: 'created', area: 'home', type: 'file' },
          [`${home}/settings`]: { kind: 'modified', area: 'home', type: 'file' },
          [`${home}/old-note`]: { kind: 'deleted', area: 'home', type: 'file' },
          [`/tmp/nsb-report-${tag}`]: { kind: 'created', area: 'tmp', type: 'file' },
          [`/tmp/nsb-cache-${tag}`]: { kind: 'created', area: 'tmp', type: 'dir' },
          '/var/tmp/nsb-var': { kind: 'created', area: 'tmp', type: 'file' },
          ...(who.uid === 0
            ? {
                [`/etc/nsb-report-new-${tag}`]: { kind: 'created', area: 'etc', type: 'file' },
                [`/etc/nsb-report-old-${tag}`]: { kind: 'deleted', area: 'etc', type: 'file' }
              }
            : {})
        }
        for (const [target, change] of Object.entries(expected)) assert.deepEqual(find(report, target), change, target)
        assert.equal(report.files.find((f) => f.path === `/tmp/nsb-cache-${tag}`)?.entries, 2)
        // Nothing of the sandbox's own making: mount points, the project's way in, copied-up parents.
        const stray = report.files.filter((f) => !(f.path in expected))
        assert.deepEqual(stray, [], JSON.stringify(stray))
        assert.deepEqual(report.processes.map((p) => p.argv[0] === process.execPath ? 'node' : p.command).sort(), ['node', 'sleep 1001'])
        assert.deepEqual(report.ports, [{ protocol: 'tcp', address: '127.0.0.1', port: 4567 }, { protocol: 'udp', address: '127.0.0.1', port: 5354 }])
        assert.deepEqual(report.notes, [])
        // and the host is as it was
        assert.equal(fs.readFileSync(path.join(project, 'keep.txt'), 'utf8'), 'host\n')
        assert.ok(fs.existsSync(path.join(home, 'old-note')) && !fs.existsSync(path.join(home, 'new-note')))
      } finally {
        remove()
      }
    })

    it('leaves out what reportIgnore declares expected', () => {
      const { places, remove } = setUpPlaces(who)
      try {
        const reportFile = path.join(places.project, 'report.json')
        const ignores = ['--report-ignore', '*.txt', '--report-ignore', '/tmp/nsb-cache-*', '--report-ignore', '/tmp/nsb-report-[0-9]*', '--report-ignore', '~/new-*', '--report-ignore', '/etc/nsb-report-*']
        const run = sandboxSh(who, ['--report-json', reportFile, ...ignores], changesScript(who, places), { cwd: places.project, env: { HOME: places.home } })
        assert.equal(run.status, 0, run.stderr)
        assert.doesNotMatch(run.stderr, /ns-sandbox report/, 'no summary without --report')
        const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as SideEffectReport
        assert.deepEqual(report.files.map((f) => f.path), [
          `${places.home}/old-note`, `${places.home}/settings`, `${places.project}/dir-to-replace`, '/var/tmp/nsb-var'
        ].sort())
      } finally {
        remove()
      }
    })

    it('has no report when none is asked for, from the CLI and for a Node entry through the API', () => {
      const work = tempDirFor(who, 'nsb-report-api-')
      try {
        const plain = sandboxSh(who, ['--json'], 'echo x > /tmp/x; (sleep 1002 &)')
        assert.equal(plain.status, 0, plain.stderr)
        assert.equal('report' in (JSON.parse(plain.stderr.trim().split('\n').pop() ?? '{}') as object), false)
        fs.writeFileSync(path.join(work.dir, 'entry.mjs'), "import fs from 'node:fs'\nfs.writeFileSync('made-by-entry.txt', 'x')\n")
        fs.writeFileSync(path.join(work.dir, 'runner.mjs'), `
import { runSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
const off = await runSandbox({ entry: 'entry.mjs', stdio: 'inherit' })
const on = await runSandbox({ entry: 'entry.mjs', stdio: 'inherit', report: true })
console.log(JSON.stringify({ off, on }))
`)
        spawnSync('chown', ['-R', `${who.uid}:${who.gid}`, work.dir])
        const { file, args } = who.wrap(process.execPath, [path.join(work.dir, 'runner.mjs')])
        const run = spawnSync(file, args, { cwd: work.dir, env: who.env, encoding: 'utf8', timeout: 60_000 })
        assert.equal(run.status, 0, run.stderr)
        const { off, on } = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { off: SandboxResult, on: SandboxResult }
        assert.equal(off.code, 0)
        assert.equal('report' in off, false)
        assert.equal(on.code, 0)
        assert.deepEqual(on.report?.files, [{ path: path.join(work.dir, 'made-by-entry.txt'), kind: 'created', area: 'project', type: 'file' }])
        assert.deepEqual(on.report?.processes, [])
      } finally {
        work.remove()
      }
    })
  })
}
