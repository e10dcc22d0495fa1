/**
 * End to end: Jest 30 (the root's) and Jest 29 (fixtures/runners/jest29) run
 * fixtures/jest-app with `preset: 'jest-environment-ns-sandbox'`, as a subprocess on a
 * copy of the fixture, and report with --json. Both projects run: "app" (side effects
 * that collide on a shared host, snapshots, babel and TypeScript) and "limits" (ts-jest,
 * a memory limit, a per-file timeout and pids limit from docblocks). Afterwards the
 * host must show nothing of what the files did. Snapshots are written through live
 * paths (first run), then checked with --ci and rewritten with -u; coverage is merged
 * from the sandboxes (v8 with Jest 30, babel with Jest 29).
 *
 *   cd /work/main && node --import tsx --test test/jest-*.test.ts
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { rootIdentity } from './helpers/identity.js'
import {
  JEST29, JEST30, copyFixture, leftovers, messageOf, runJest, statusOf,
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
