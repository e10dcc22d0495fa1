/**
 * End to end: Jest 30 (the root's) and Jest 29 (fixtures/runners/jest29) run
 * fixtures/jest-app with `preset: 'jest-environment-ns-sandbox'`, as a subprocess on a
 * copy of the fixture, and report with --json. Both projects run: "app" (side effects
 * that collide on a shared host, snapshots, babel and TypeScript) and "limits" (ts-jest,
 * a memory limit, a per-file timeout and pids limit from docblocks). Afterwards the
 * host must show nothing of what the files did. Snapshots are written through live
 * paths (first run), then checked with --ci and rewritten with -u; coverage is merged
 * from the sandboxes (v8 with Jest 30, babel with Jest 29). With `report`, the run
 * report names the files whose side effects the sandboxes kept from the host.
 *
 *   cd /work/main && node --import tsx --test test/jest-*.test.ts
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { rootIdentity } from './helpers/identity.js'
import {
  JEST29, JEST30, copyFixture, freePort, leftovers, listening, messageOf, runJest, statusOf,
  type FixtureCopy, type JestRun, type JestVersion
} from './helpers/jest-fixture.js'

const APP_FILES = ['detached', 'etc', 'home-config', 'identity', 'plain', 'port-a', 'port-b', 'snapshot', 'tmp-a', 'tmp-b']
  .map((name) => `app/${name}.test.js`).concat('app/typed.test.ts')
const root = rootIdentity()
const copies: FixtureCopy[] = []
after(() => { for (const copy of copies) copy.remove() })

function assertSandboxedOutcome (run: JestRun, jest: JestVersion): void {
  for (const file of APP_FILES) assert.equal(statusOf(run, file), 'passed', `${jest.name} ${file}: ${messageOf(run, file)}`)
  assert.equal(statusOf(run, 'limits/calm.test.ts'), 'passed', messageOf(run, 'limits/calm.test.ts'))
  assert.equal(statusOf(run, 'limits/hog.test.ts'), 'failed')
  assert.match(messageOf(run, 'limits/hog.test.ts'), /sandbox was stopped: memory limit 256 MiB exceeded \(OOM kill\)/)
  assert.equal(statusOf(run, 'limits/sleepy.test.ts'), 'failed')
  assert.match(messageOf(run, 'limits/sleepy.test.ts'), /sandbox was stopped: timeout of 2s exceeded/)
  assert.equal(statusOf(run, 'limits/forks.test.ts'), 'failed')
  assert.match(messageOf(run, 'limits/forks.test.ts'), /EAGAIN[\s\S]*the sandbox reported: pids limit 48 reached/)
  assert.equal(run.json.numTotalTestSuites, APP_FILES.length + 4)
  assert.equal(run.json.numFailedTestSuites, 3)
}

function readCoverage (fixture: FixtureCopy): { functions: number, lines: number } {
  const summary = JSON.parse(fs.readFileSync(path.join(fixture.dir, 'coverage', 'coverage-summary.json'), 'utf8')) as
    Record<string, { functions: { pct: number }, lines: { covered: number } }>
  const entry = summary[path.join(fixture.dir, 'app', 'subject.js')]
  assert.ok(entry !== undefined, `subject.js missing from the coverage summary: ${Object.keys(summary).join(', ')}`)
  return { functions: entry.functions.pct, lines: entry.lines.covered }
}

const COVERAGE_ARGS = ['--coverage', '--collectCoverageFrom=**/subject.js', '--coverageReporters=json-summary']

describe('Jest 30: every test file in its own sandbox', () => {
  // Runs both projects: ts-jest (limits) is exercised here.
  const jest = JEST30()
  let fixture: FixtureCopy

  test('all files run; limits fail with their message; the host is unchanged; snapshots are written; v8 coverage is merged', async () => {
    fixture = await copyFixture()
    copies.push(fixture)
    const run = await runJest({ jest, fixture, identity: root, args: ['--ci=false', ...COVERAGE_ARGS, '--coverageProvider=v8'] })
    assertSandboxedOutcome(run, jest)
    assert.deepEqual(leftovers(fixture, root.home), [])
    // Written by the sandbox through live paths: the .snap file and the test file's inline snapshot.
    assert.equal(run.json.snapshot.added, 2)
    const snap = fs.readFileSync(path.join(fixture.dir, 'app', '__snapshots__', 'snapshot.test.js.snap'), 'utf8')
    assert.match(snap, /"value": "v1"/)
    assert.match(fs.readFileSync(path.join(fixture.dir, 'app', 'snapshot.test.js'), 'utf8'), /toMatchInlineSnapshot\(`\s*\{\s*"generation": 1,/)
    const coverage = readCoverage(fixture)
    assert.equal(coverage.functions, 50)
  })

  test('--ci checks the written snapshots; -u rewrites both kinds', async () => {
    const checked = await runJest({ jest, fixture, identity: root, args: ['--ci', '--selectProjects', 'app', '--testPathPatterns', 'snapshot'] })
    assert.equal(statusOf(checked, 'app/snapshot.test.js'), 'passed', messageOf(checked, 'app/snapshot.test.js'))
    assert.equal(checked.json.snapshot.matched, 2)

    const changed = { NSB_SNAPSHOT_VALUE: 'v2' }
    const stale = await runJest({ jest, fixture, identity: root, env: changed, args: ['--ci', '--selectProjects', 'app', '--testPathPatterns', 'snapshot'] })
    assert.equal(statusOf(stale, 'app/snapshot.test.js'), 'failed')
    assert.equal(stale.json.snapshot.unmatched, 2)

    const updated = await runJest({ jest, fixture, identity: root, env: changed, args: ['-u', '--selectProjects', 'app', '--testPathPatterns', 'snapshot'] })
    assert.equal(statusOf(updated, 'app/snapshot.test.js'), 'passed', messageOf(updated, 'app/snapshot.test.js'))
    assert.equal(updated.json.snapshot.updated, 2)
    assert.match(fs.readFileSync(path.join(fixture.dir, 'app', '__snapshots__', 'snapshot.test.js.snap'), 'utf8'), /"value": "v2"/)
    assert.match(fs.readFileSync(path.join(fixture.dir, 'app', 'snapshot.test.js'), 'utf8'), /"value": "v2"/)
    assert.deepEqual(leftovers(fixture, root.home), [])
  })
})

describe('Jest 29: every test file in its own sandbox, with Jest 29 inside', () => {
  test('the app project and the OOM file run; the host is unchanged; babel coverage is merged', async () => {
    const jest = JEST29()
    const fixture = await copyFixture()
    copies.push(fixture)
    // NSB_EXPECT_JEST_RUNNER makes identity.test.js check that the sandbox loaded Jest 29's jest-runner.
    const run = await runJest({ jest, fixture, identity: root, args: ['--ci=false', ...COVERAGE_ARGS, '--testPathPattern', 'app/|hog'] })
    for (const file of APP_FILES) assert.equal(statusOf(run, file), 'passed', `${jest.name} ${file}: ${messageOf(run, file)}`)
    assert.equal(statusOf(run, 'limits/hog.test.ts'), 'failed')
    assert.match(messageOf(run, 'limits/hog.test.ts'), /sandbox was stopped: memory limit 256 MiB exceeded \(OOM kill\)/)
    assert.equal(run.json.numTotalTestSuites, APP_FILES.length + 1)
    assert.deepEqual(leftovers(fixture, root.home), [])
    assert.equal(run.json.snapshot.added, 2)
    assert.ok(fs.existsSync(path.join(fixture.dir, 'app', '__snapshots__', 'snapshot.test.js.snap')))
    const coverage = readCoverage(fixture)
    assert.equal(coverage.functions, 50)
  })
})

interface RunReportFile {
  version: number
  tool: string
  root: string
  sandboxes: Array<{ testFiles: string[], project?: string, report: { files: Array<{ path: string }>, ports: Array<{ port: number }> } }>
}

function readRunReport (fixture: FixtureCopy): RunReportFile {
  const file = path.join(fixture.dir, 'ns-sandbox-report.json')
  assert.ok(fs.existsSync(file), `${file} was not written`)
  const document = JSON.parse(fs.readFileSync(file, 'utf8')) as RunReportFile
  fs.rmSync(file)
  return document
}

describe('the run report (report: true | \'json\')', () => {
  const REPORTED = ['home-config', 'etc', 'detached', 'port-a', 'plain', 'tmp-a']

  test('Jest 30, report: true: after the run, the files that wrote outside /tmp or left a process and its port, worst first; the JSON lists every file', async () => {
    const fixture = await copyFixture()
    copies.push(fixture)
    const daemonPort = await freePort()
    // NSB_DETACHED_PORT: the process detached.test.js leaves listens on that port.
    const run = await runJest({
      jest: JEST30(), fixture, identity: root, env: { NSB_JEST_REPORT: '1', NSB_DETACHED_PORT: String(daemonPort) },
      args: ['--ci', '--selectProjects', 'app', '--testPathPatterns', `app/(${REPORTED.join('|')})\\.test`]
    })
    assert.equal(run.files.size, REPORTED.length, run.output)
    for (const [file, result] of run.files) assert.equal(result.status, 'passed', `${file}: ${messageOf(run, file)}`)
    const text = run.output.slice(run.output.indexOf('ns-sandbox report:'))
    assert.match(text, /^ns-sandbox report: 6 test files; 2 wrote outside \/tmp, 1 left processes running, 1 left ports listening \(worst first\)$/m, run.output)
    const listed = [...text.matchAll(/^ {2}(app\/\S+) \[app\]: (.*)$/gm)].map((m) => `${m[1]}: ${m[2]}`)
    assert.deepEqual(listed, [
      'app/detached.test.js: 1 process left running, 1 port listening',
      'app/etc.test.js: 1 path outside /tmp',
      'app/home-config.test.js: 1 path outside /tmp'
    ], text)
    assert.ok(text.includes(path.join(root.home, '.config', fixture.marker)), text)
    assert.ok(text.includes(`/etc/${fixture.marker}.conf`), text)
    assert.match(text, new RegExp(`port +tcp +127\\.0\\.0\\.1:${daemonPort}$`, 'm'))
    assert.ok(text.includes(`per-file detail: ${path.join(fixture.dir, 'ns-sandbox-report.json')}`), text)

    const document = readRunReport(fixture)
    assert.equal(document.version, 1)
    assert.equal(document.tool, 'jest')
    assert.equal(document.root, fixture.dir)
    assert.deepEqual(document.sandboxes.flatMap((s) => s.testFiles).sort(), REPORTED.map((name) => `app/${name}.test.js`).sort())
    const tmp = document.sandboxes.find((s) => s.testFiles[0] === 'app/tmp-a.test.js')
    assert.ok(tmp?.report.files.some((f) => f.path.startsWith(`/tmp/${fixture.marker}`)), 'the JSON lists /tmp too')
    assert.deepEqual(document.sandboxes.find((s) => s.testFiles[0] === 'app/detached.test.js')?.report.ports.map((p) => p.port), [daemonPort])
    assert.deepEqual(leftovers(fixture, root.home), [])
    assert.equal(listening(daemonPort), false)
  })

  test('Jest 29, report: \'json\' with isolation \'worker\': one line naming the file, one entry for the lane\'s sandbox and its files', async () => {
    const fixture = await copyFixture()
    copies.push(fixture)
    const files = ['home-config', 'etc', 'detached', 'plain']
    const run = await runJest({
      jest: JEST29(), fixture, identity: root, env: { NSB_JEST_REPORT: 'json', NSB_JEST_ISOLATION: 'worker' },
      args: ['--ci', '-w', '1', '--selectProjects', 'app', '--testPathPattern', `app/(${files.join('|')})\\.test`]
    })
    assert.equal(run.files.size, files.length, run.output)
    for (const [file, result] of run.files) assert.equal(result.status, 'passed', `${file}: ${messageOf(run, file)}`)
    const file = path.join(fixture.dir, 'ns-sandbox-report.json')
    assert.ok(run.output.includes(`ns-sandbox report: 4 test files in 1 sandbox, 1 wrote outside /tmp or left processes or ports: ${file}\n`), run.output)
    assert.doesNotMatch(run.output, /per-file detail/, 'no summary with \'json\'')
    const document = readRunReport(fixture)
    assert.equal(document.sandboxes.length, 1)
    assert.deepEqual(document.sandboxes[0]?.testFiles, files.map((name) => `app/${name}.test.js`).sort())
    assert.deepEqual(leftovers(fixture, root.home), [])
  })
})
