/**
 * End to end, the other ways to configure jest-environment-ns-sandbox (Jest 30 unless
 * said otherwise), each on its own copy of fixtures/jest-app:
 *
 * - the stock runner and environment on the same files: the collisions and leftovers
 *   the sandbox prevents (cleaned up afterwards, also on failure);
 * - the environment without the runner (Jest 30 and 29): every file refused, no test
 *   code run, nothing left behind;
 * - the runner without the preset, next to testEnvironment 'node': every file goes into
 *   a sandbox all the same (test/jest-dropin.test.ts: other environments and presets);
 * - isolation 'state' (the default): two files on one lane share a warm process and
 *   nothing else (test/jest-user.test.ts: the same as an unprivileged user);
 * - isolation 'worker' on two lanes; invalid options; --listTests and --shard;
 * - watch mode: an interrupt (a key press during a run) kills the running sandbox.
 *
 *   cd /work/main && node --import tsx --test test/jest-*.test.ts
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { rootIdentity } from './helpers/identity.js'
import {
  JEST29, JEST30, STATE_FILES, cleanUpHost, copyFixture, fixtureEnv, leftovers, markedProcesses, messageOf, runJest, stateCheck, statusOf,
  type FixtureCopy
} from './helpers/jest-fixture.js'

const root = rootIdentity()
const copies: FixtureCopy[] = []
after(() => { for (const copy of copies) copy.remove() })

async function fixtureCopy (extra?: Record<string, string>): Promise<FixtureCopy> {
  const copy = await copyFixture(undefined, extra)
  copies.push(copy)
  return copy
}

const NOT_SANDBOXED = /this test file is not running inside a sandbox, so none of its code was run[\s\S]*preset: 'jest-environment-ns-sandbox'/

describe('without the sandbox', () => {
  test('the stock runner on the same files: collisions on the host, leftovers after it', async () => {
    const jest = JEST30()
    const fixture = await fixtureCopy()
    try {
      const run = await runJest({ jest, fixture, identity: root, mode: 'stock', args: ['--ci', '--forceExit'] })
      const ports = ['app/port-a.test.js', 'app/port-b.test.js'].map((file) => statusOf(run, file)).sort()
      assert.deepEqual(ports, ['failed', 'passed'], 'one of the two files cannot have the port')
      const portFailure = ['app/port-a.test.js', 'app/port-b.test.js'].find((file) => statusOf(run, file) === 'failed') ?? ''
      assert.match(messageOf(run, portFailure), /EADDRINUSE/)
      const claims = ['app/tmp-a.test.js', 'app/tmp-b.test.js'].map((file) => statusOf(run, file)).sort()
      assert.deepEqual(claims, ['failed', 'passed'], 'the second file finds the first one\'s claim in /tmp')
      assert.equal(statusOf(run, 'app/identity.test.js'), 'failed')
      assert.match(messageOf(run, 'app/identity.test.js'), /ns-sandbox/)
      const left = leftovers(fixture, root.home)
      for (const expected of [`/tmp/${fixture.marker}`, path.join(root.home, '.config', fixture.marker), `/etc/${fixture.marker}.conf`]) {
        assert.ok(left.includes(expected), `${expected} should be left on the host; found ${left.join(', ')}`)
      }
      assert.ok(markedProcesses(fixture.marker).length > 0, 'the detached process should outlive the stock run')
    } finally {
      cleanUpHost(fixture, root.home)
    }
    assert.deepEqual(leftovers(fixture, root.home), [])
  })

  for (const version of [JEST30, JEST29]) {
    test(`the environment without the runner (${version().name}): every file refused, nothing run`, async () => {
      const jest = version()
      const fixture = await fixtureCopy()
      const run = await runJest({ jest, fixture, identity: root, mode: 'env-only', args: ['--ci', '--selectProjects', 'app'] })
      assert.equal(run.files.size, 11)
      for (const [file, result] of run.files) {
        assert.equal(result.status, 'failed', file)
        assert.match(messageOf(run, file), NOT_SANDBOXED, file)
        assert.equal(result.tests.length, 0, `${file}: no test may run`)
      }
      assert.deepEqual(leftovers(fixture, root.home), [])
    })
  }
})

describe('isolation \'state\', the default', () => {
  for (const version of [JEST30, JEST29]) {
    test(`${version().name}: two files on one lane run in the same warm process, and neither finds the files, process or port the other left`, async () => {
      const jest = version()
      const fixture = await fixtureCopy(STATE_FILES)
      const pattern = jest.name === 'jest29' ? '--testPathPattern' : '--testPathPatterns'
      const run = await runJest({ jest, fixture, identity: root, args: ['--ci', '-w', '1', '--selectProjects', 'app', pattern, 'state-'] })
      assert.equal(run.files.size, 2, run.output)
      const { failures, tokens, leftInProject } = stateCheck(run, fixture)
      assert.deepEqual(failures, [], 'the second file found what the first one left')
      assert.equal(tokens.length, 2, run.output)
      assert.equal(tokens[0], tokens[1], 'one warm process (the lane\'s) ran both files')
      assert.equal(leftInProject, false, 'the project file was written to the copy-on-write layer')
      assert.deepEqual(leftovers(fixture, root.home), [])
    })
  }

  test('isolation \'worker\' on the same files: the second file finds what the first left', async () => {
    const fixture = await fixtureCopy(STATE_FILES)
    const run = await runJest({
      jest: JEST30(), fixture, identity: root, env: { NSB_JEST_ISOLATION: 'worker' },
      args: ['--ci', '-w', '1', '--selectProjects', 'app', '--testPathPatterns', 'state-']
    })
    const { failures, tokens } = stateCheck(run, fixture)
    assert.ok(failures.some((failure) => /finds nothing an earlier file left/.test(failure)), failures.join('\n'))
    assert.equal(tokens[0], tokens[1])
    assert.deepEqual(leftovers(fixture, root.home), [])
  })
})

describe('the runner in other configurations', () => {
  test('runner without the preset, next to testEnvironment \'node\': every file is sandboxed, in the project\'s environment', async () => {
    const fixture = await fixtureCopy()
    const run = await runJest({ jest: JEST30(), fixture, identity: root, mode: 'runner', args: ['--ci=false', '--selectProjects', 'app'] })
    // plain.test.js asserts it runs in a sandbox without the nsSandbox global (jest-environment-node);
    // identity.test.js asks for the ns-sandbox environment with a docblock and gets it, in its sandbox.
    assert.equal(run.files.size, 11, run.output)
    for (const [file, result] of run.files) assert.equal(result.status, 'passed', `${file}: ${messageOf(run, file)}`)
    assert.deepEqual(leftovers(fixture, root.home), [])
  })

  test('isolation \'worker\' on two lanes, cold transform cache: files share a lane\'s sandbox, the host stays unchanged', async () => {
    const fixture = await fixtureCopy()
    const files = ['identity', 'plain', 'home-config', 'etc', 'detached', 'typed', 'subject']
    const run = await runJest({
      jest: JEST30(),
      fixture,
      identity: root,
      env: { NSB_JEST_ISOLATION: 'worker' },
      // A cold cache: both lanes' sandboxes (each PID 2) write the same transform-cache entries at once.
      args: ['--ci=false', '-w', '2', `--cacheDirectory=${path.join(fixture.dir, '.jest-cache')}`, '--selectProjects', 'app', '--testPathPatterns', files.join('|')]
    })
    assert.equal(run.json.numTotalTestSuites, 6)
    for (const [file, result] of run.files) assert.equal(result.status, 'passed', `${file}: ${messageOf(run, file)}`)
    assert.deepEqual(leftovers(fixture, root.home), [])
  })

  test('invalid options fail the run with a message that names them and where they came from', async () => {
    const fixture = await fixtureCopy({
      'bad-project.config.cjs': [
        "const base = require('./jest.config.cjs')",
        "module.exports = { projects: [{ ...base.projects[0], testEnvironmentOptions: { sandbox: { isolation: 'wrker', memroy: '1G', report: 'yes' } } }] }"
      ].join('\n'),
      // What needs a sandbox per file, asked for together with isolation 'state'.
      'state-conflict.config.cjs': [
        "const base = require('./jest.config.cjs')",
        "module.exports = { projects: [{ ...base.projects[0], testEnvironmentOptions: { sandbox: { isolation: 'state', timeout: '1m', report: true } } }] }"
      ].join('\n'),
      // Jest >= 30.4.1 passes `runner: [path, options]` to the runner.
      'bad-runner.config.cjs': [
        "const base = require('./jest.config.cjs')",
        "module.exports = { projects: [{ ...base.projects[0], runner: [require.resolve('jest-environment-ns-sandbox/runner'), { cpus: 0 }] }] }"
      ].join('\n')
    })
    const outputOf = async (config: string): Promise<string> => {
      const run = await runJest({ jest: JEST30(), fixture, identity: root, args: ['--ci', '-c', config, '--testPathPatterns', 'plain'] })
        .catch((error: Error) => error)
      return run instanceof Error ? run.message : run.output
    }
    assert.match(await outputOf('bad-project.config.cjs'),
      /testEnvironmentOptions\.sandbox of project "app".*option `isolation`: expected 'state' .*, 'file' .* or 'worker' .*, got "wrker".*option `report`: expected true \(.*\), 'json' \(.*\) or false, got "yes".*unknown option `memroy`/)
    assert.match(await outputOf('state-conflict.config.cjs'),
      /testEnvironmentOptions\.sandbox of project "app" \([^)]*\): isolation 'state' cannot be combined with option `timeout`: .*; nor with option `report` \(yet\): .* \(use isolation 'file'\)/)
    assert.match(await outputOf('bad-runner.config.cjs'), /the runner options \(runner: \[path, options\]\): NSB_INVALID_OPTION: option `cpus`/)
    assert.deepEqual(leftovers(fixture, root.home), [])
  })

  test('--listTests lists without sandboxes; --shard runs its share in them, with the run report', async () => {
    const fixture = await fixtureCopy()
    const list = spawn(process.execPath, [JEST30().bin, '--listTests'], { cwd: fixture.dir, env: fixtureEnv({ jest: JEST30(), fixture, identity: root }) })
    let listed = ''
    list.stdout.on('data', (chunk: Buffer) => { listed += chunk.toString() })
    await new Promise((resolve) => { list.on('close', resolve) })
    assert.equal(listed.trim().split('\n').filter((line) => line.includes(fixture.dir)).length, 15)

    // With the run report: one summary for the shard's files, and the file.
    const run = await runJest({ jest: JEST30(), fixture, identity: root, env: { NSB_JEST_REPORT: '1' }, args: ['--ci', '--selectProjects', 'app', '--shard=2/4'] })
    assert.ok(run.files.size >= 2 && run.files.size <= 3, `a quarter of 11 files, got ${run.files.size}`)
    for (const [file, result] of run.files) {
      if (file !== 'app/snapshot.test.js') assert.equal(result.status, 'passed', `${file}: ${messageOf(run, file)}`)
    }
    assert.equal(run.output.match(/^ns-sandbox report: /gm)?.length, 1, run.output)
    assert.match(run.output, new RegExp(`^ns-sandbox report: ${run.files.size} test files[;,]`, 'm'))
    const reportFile = path.join(fixture.dir, 'ns-sandbox-report.json')
    const document = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as { sandboxes: Array<{ testFiles: string[] }> }
    assert.deepEqual(document.sandboxes.flatMap((s) => s.testFiles).sort(), [...run.files.keys()].sort())
    fs.rmSync(reportFile)
    assert.deepEqual(leftovers(fixture, root.home), [])
  })

  test('watch mode: an interrupt kills the running sandbox', async () => {
    const fixture = await fixtureCopy({
      'app/slow.test.js': [
        "import { test } from '@jest/globals'",
        "import { spawn } from 'node:child_process'",
        "import { MARKER } from './helpers'",
        "test('slow', async () => {",
        "  spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', `${MARKER}-detached`], { stdio: 'ignore' })",
        '  await new Promise((resolve) => setTimeout(resolve, 60_000))',
        '}, 90_000)'
      ].join('\n')
    })
    // Jest reads key presses only from a terminal: `script` gives it one.
    const command = `${process.execPath} ${JEST30().bin} --watchAll --selectProjects app --testPathPatterns slow`
    const watch = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: fixture.dir, env: { ...fixtureEnv({ jest: JEST30(), fixture, identity: root }), TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe']
    })
    let output = ''
    watch.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    const closed = new Promise((resolve) => { watch.on('close', resolve) })
    try {
      let first: number | undefined
      for (let i = 0; i < 240 && first === undefined; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250))
        first = markedProcesses(fixture.marker)[0]
      }
      assert.ok(first !== undefined, `the slow file never started:\n${output}`)
      watch.stdin.write('a')
      let gone = false
      for (let i = 0; i < 40 && !gone; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250))
        gone = !markedProcesses(fixture.marker).includes(first)
      }
      assert.ok(gone, `the interrupted file's sandbox (and its process ${first}) should be gone:\n${output}`)
      assert.match(output, /Test run was interrupted/)
    } finally {
      watch.stdin.write('q')
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000))])
      watch.kill('SIGKILL')
      cleanUpHost(fixture, root.home)
    }
  })
})
