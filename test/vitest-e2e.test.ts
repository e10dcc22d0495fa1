/**
 * End to end: Vitest 5 (the root's) and Vitest 4 (fixtures/runners/vitest4) run
 * fixtures/vitest-app with @ns-sandbox/vitest, as a subprocess, on a copy of the
 * fixture in a temp directory. Each run's outcome comes from Vitest's JSON report and
 * its output; afterwards the host must show nothing of what the test files did (files
 * in ~/.config, /etc, /tmp, the detached child, the port). The same files under the
 * stock `forks` pool show the collisions and leftovers the sandbox prevents. With
 * `report`, the run report names the files that did it (summary and JSON file).
 *
 *   cd /work/main && node --import tsx --test test/vitest-*.test.ts
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { assertReadableByTestUser, ensureTestUser, rootIdentity, type Identity } from './helpers/identity.js'

const REPO = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const FIXTURE = path.join(REPO, 'fixtures/vitest-app')
const MODULES = { 5: path.join(REPO, 'node_modules'), 4: path.join(REPO, 'fixtures/runners/vitest4/node_modules') } as const
type Major = keyof typeof MODULES

const APP_FILES = ['cwd-env', 'detached-child', 'host-files', 'identity', 'inline-snapshot', 'math', 'network', 'port-a', 'port-b',
  'project-files', 'snapshot'].map((name) => `${name}.test.js`)
const OOM_MESSAGE = 'memory limit 64 MiB exceeded (OOM kill)'

const root = rootIdentity()
const temps: string[] = []
after(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true })
})

// ---------------------------------------------------------------------------
// The fixture, Vitest as a subprocess, and the host's state
// ---------------------------------------------------------------------------

/** A copy of the fixture whose node_modules resolves to Vitest `major` and the built packages. */
function makeApp (major: Major, owner: Identity = root): string {
  const installed = path.join(MODULES[major], 'vitest', 'package.json')
  assert.ok(fs.existsSync(installed), `${installed} is missing: run \`npm ci\` at the repository root (it installs fixtures/runners/*)`)
  assert.ok(fs.existsSync(path.join(REPO, 'packages/vitest-plugin/dist/index.js')), 'build first: npm run build')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nsb-vitest${major}-`))
  temps.push(dir)
  for (const entry of ['package.json', 'vitest.config.js', 'src', 'tests']) {
    fs.cpSync(path.join(FIXTURE, entry), path.join(dir, entry), { recursive: true })
  }
  const modules = path.join(dir, 'node_modules')
  fs.mkdirSync(modules)
  const link = (target: string, name: string): void => fs.symlinkSync(target, path.join(modules, name))
  if (major === 5) {
    for (const name of fs.readdirSync(MODULES[5])) if (!name.startsWith('.')) link(path.join(MODULES[5], name), name)
  } else {
    link(path.join(MODULES[4], 'vitest'), 'vitest')
    link(path.join(MODULES[4], '@vitest'), '@vitest')
    link(path.join(MODULES[5], '@ns-sandbox'), '@ns-sandbox')
  }
  if (owner.uid !== 0) {
    fs.chmodSync(dir, 0o755)
    const chown = spawnSync('chown', ['-hR', `${owner.uid}:${owner.gid}`, dir], { encoding: 'utf8' })
    assert.equal(chown.status, 0, chown.stderr)
  }
  return dir
}

interface JsonAssertion { title: string, status: string, failureMessages: string[] }
interface JsonFile { name: string, status: string, message: string, assertionResults: JsonAssertion[] }
interface JsonReport { success: boolean, numPassedTests: number, numFailedTests: number, testResults: JsonFile[] }

interface Run {
  code: number | null
  output: string
  report: JsonReport | undefined
}

interface RunOptions {
  who?: Identity
  env?: Record<string, string>
  /** Seconds before the run is killed (and the test fails). */
  timeout?: number
  /** Called with the output so far; return true to stop waiting for more. */
  onOutput?: (output: string, child: import('node:child_process').ChildProcess) => void
}

async function runVitest (app: string, args: string[], options: RunOptions = {}): Promise<Run> {
  const who = options.who ?? root
  const report = path.join(app, 'report.json')
  fs.rmSync(report, { force: true })
  const command = who.wrap(process.execPath, [path.join(app, 'node_modules/vitest/vitest.mjs'), ...args])
  const child = spawn(command.file, command.args, {
    cwd: app,
    env: { ...who.env, HOME: who.home, FORCE_COLOR: '0', NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  let output = ''
  const onData = (chunk: Buffer): void => {
    output += chunk.toString()
    options.onOutput?.(output, child)
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    try { process.kill(-(child.pid ?? 0), 'SIGKILL') } catch { /* gone */ }
  }, (options.timeout ?? 120) * 1000)
  const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)))
  clearTimeout(timer)
  assert.ok(!timedOut, `vitest ${args.join(' ')} did not finish in time:\n${output}`)
  return { code, output, report: fs.existsSync(report) ? JSON.parse(fs.readFileSync(report, 'utf8')) as JsonReport : undefined }
}

function jsonReporter (): string[] {
  // JSON first: on Node 20, Vitest 5's default reporter can throw while printing failed tests (Map.groupBy).
  return ['--reporter=json', '--outputFile=report.json']
}

function statusByFile (report: JsonReport | undefined, output: string): Record<string, string> {
  assert.ok(report !== undefined, `no JSON report was written:\n${output}`)
  return Object.fromEntries(report.testResults.map((file) => [path.basename(file.name), file.status]))
}

function failureText (report: JsonReport | undefined, file: string): string {
  const entry = report?.testResults.find((result) => path.basename(result.name) === file)
  return [entry?.message ?? '', ...(entry?.assertionResults ?? []).flatMap((a) => a.failureMessages)].join('\n')
}

let markers = 0
function newMarker (): string {
  return `nsb-e2e-${process.pid}-${++markers}`
}

function listeningPorts (): Set<number> {
  const ports = new Set<number>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try { text = fs.readFileSync(table, 'utf8') } catch { continue }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields[3] === '0A') ports.add(parseInt(fields[1]?.split(':')[1] ?? '0', 16))
    }
  }
  return ports
}

function freePort (): number {
  const used = listeningPorts()
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 20000)
    if (!used.has(port)) return port
  }
}

function processesWith (marker: string): number[] {
  const found = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' })
  return found.stdout.split('\n').filter(Boolean).map(Number).filter((pid) => pid !== process.pid)
}

function hostPaths (marker: string, home: string): string[] {
  return [path.join(home, '.config', marker), `/etc/${marker}.conf`, `/tmp/${marker}-fixed.txt`]
}

/** What a run left on the host: files, processes, a listening port. */
function hostTraces (marker: string, home: string, port: number): string[] {
  const traces = hostPaths(marker, home).filter((p) => fs.existsSync(p))
  for (const pid of processesWith(marker)) traces.push(`process ${pid}`)
  if (listeningPorts().has(port)) traces.push(`port ${port} is listening`)
  return traces
}

/** Undo what an unsandboxed run did: kill the detached children (by pid, with their group), delete the files. */
async function cleanHost (marker: string, home: string): Promise<void> {
  for (const pid of processesWith(marker)) {
    try { process.kill(-pid, 'SIGKILL') } catch { /* not a group leader */ }
    try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
  }
  for (const p of hostPaths(marker, home)) fs.rmSync(p, { recursive: true, force: true })
  // killed orphans linger until their new parent reaps them
  for (let waited = 0; processesWith(marker).length > 0 && waited < 5000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100))
}

function evidence (app: string, name: string): unknown {
  const file = path.join(app, '.evidence', name)
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined
}

function fixtureText (relative: string): string {
  return fs.readFileSync(path.join(FIXTURE, relative), 'utf8')
}

// ---------------------------------------------------------------------------
// The runs
// ---------------------------------------------------------------------------

/** app + hog projects under the sandbox; everything is asserted, the host is cleaned whatever happens. */
async function sandboxedRun (major: Major, who: Identity, env: Record<string, string> = {}): Promise<void> {
  const app = makeApp(major, who)
  const marker = newMarker()
  const port = freePort()
  try {
    const run = await runVitest(app, ['run', '--project', 'app', '--project', 'hog', ...jsonReporter(), '--reporter=default'],
      { who, env: { NSB_MARKER: marker, NSB_FIXTURE_PORT: String(port), ...env } })
    const statuses = statusByFile(run.report, run.output)
    const expected: Record<string, string> = Object.fromEntries(APP_FILES.map((file) => [file, 'passed']))
    expected['small.test.js'] = 'passed'
    expected['memory-hog.test.js'] = 'failed'
    assert.deepEqual(statuses, expected, run.output)
    assert.equal(run.code, 1, 'the OOM kill fails the run')
    // Vitest 5's default reporter needs Map.groupBy (Node >= 21) to print failures; on older Node the JSON report says it.
    if (major === 4 || typeof (Map as { groupBy?: unknown }).groupBy === 'function') {
      assert.ok(run.output.includes(OOM_MESSAGE), `the output names the limit:\n${run.output}`)
    }
    assert.match(failureText(run.report, 'memory-hog.test.js'), new RegExp(`^${OOM_MESSAGE.replace(/[()]/g, '\\$&')}`), 'the report names the limit on the file')

    assert.deepEqual(evidence(app, 'identity.json'), { hostname: 'ns-sandbox', pid: 2, uid: who.uid })
    assert.equal((evidence(app, 'port-a.json') as { listening: boolean }).listening, true)
    assert.equal((evidence(app, 'port-b.json') as { listening: boolean }).listening, true)
    assert.ok(evidence(app, 'detached.json') !== undefined, 'the detached child was started')

    assert.deepEqual(hostTraces(marker, who.home, port), [], 'nothing of the test files is left on the host')
    assert.ok(!fs.existsSync(path.join(app, 'generated-by-test.txt')), 'a file written into the project stays in its sandbox')
    assert.equal(fs.readFileSync(path.join(app, 'src/math.js'), 'utf8'), fixtureText('src/math.js'), 'a file deleted by a test is still there')
    assert.equal(fs.readFileSync(path.join(app, 'tests/__snapshots__/snapshot.test.js.snap'), 'utf8'), fixtureText('tests/__snapshots__/snapshot.test.js.snap'))
    assert.equal(fs.readFileSync(path.join(app, 'tests/inline-snapshot.test.js'), 'utf8'), fixtureText('tests/inline-snapshot.test.js'))
  } finally {
    await cleanHost(marker, who.home)
  }
}

describe('@ns-sandbox/vitest end to end', () => {
  test('Vitest 5: every file runs in its own sandbox, the OOM hog fails naming the limit, the host is unchanged', async () => {
    await sandboxedRun(5, root)
  })

  test('Vitest 4: the same', async () => {
    await sandboxedRun(4, root)
  })

  test('stock forks pool: the same files collide on the port and leave files and a process on the host', async () => {
    const app = makeApp(5)
    const marker = newMarker()
    const port = freePort()
    try {
      const run = await runVitest(app, ['run', ...jsonReporter()],
        { env: { NSB_STOCK: '1', NSB_MARKER: marker, NSB_FIXTURE_PORT: String(port) } })
      const statuses = statusByFile(run.report, run.output)
      assert.equal(run.code, 1)
      const ports = failureText(run.report, 'port-a.test.js') + failureText(run.report, 'port-b.test.js')
      assert.match(ports, /EADDRINUSE/, 'the second listener on the port fails')
      assert.equal(statuses['identity.test.js'], 'failed', 'the host name and pid are the host\'s')
      assert.match(failureText(run.report, 'host-files.test.js'), /is alone in \/tmp|expected \[/)
      assert.ok(fs.existsSync(`/etc/${marker}.conf`), 'the test wrote /etc')
      assert.ok(fs.existsSync(path.join(root.home, '.config', marker)), 'the test wrote ~/.config')
      assert.ok(processesWith(marker).length > 0, 'the detached child outlived its test file')
      assert.ok(!fs.existsSync(path.join(app, 'src/math.js')), 'the project lost a file')
    } finally {
      await cleanHost(marker, root.home)
    }
    assert.deepEqual(hostTraces(marker, root.home, port), [], 'the stock run was cleaned up')
  })

  test('snapshots: -u writes the snapshot file and rewrites the inline snapshot on the host; an unused new snapshot directory is removed', async () => {
    const app = makeApp(5)
    const snapshots = path.join(app, 'tests/__snapshots__')
    const inline = path.join(app, 'tests/inline-snapshot.test.js')
    fs.rmSync(snapshots, { recursive: true })
    fs.writeFileSync(inline, fs.readFileSync(inline, 'utf8').replace(/toMatchInlineSnapshot\(`[^`]*`\)/, 'toMatchInlineSnapshot()'))
    assert.doesNotMatch(fs.readFileSync(inline, 'utf8'), /"sum": 42/)

    const run = await runVitest(app, ['run', '--project', 'app', 'tests/snapshot.test.js', 'tests/inline-snapshot.test.js', ...jsonReporter(), '-u'])
    assert.deepEqual(statusByFile(run.report, run.output), { 'inline-snapshot.test.js': 'passed', 'snapshot.test.js': 'passed' })
    assert.equal(run.code, 0, run.output)
    assert.match(fs.readFileSync(path.join(snapshots, 'snapshot.test.js.snap'), 'utf8'), /"sum": 3,/)
    assert.match(fs.readFileSync(inline, 'utf8'), /toMatchInlineSnapshot\(`\s*\{\s*"sum": 42,\s*\}\s*`\)/)

    fs.rmSync(snapshots, { recursive: true })
    const skipped = await runVitest(app, ['run', '--project', 'app', 'tests/snapshot.test.js', '-t', 'no test has this name', ...jsonReporter(), '-u'])
    assert.equal(skipped.code, 0, skipped.output)
    assert.ok(!fs.existsSync(snapshots), 'the directory made live for the sandbox was removed, as it stayed empty')
  })

  test('coverage: v8 (Vitest 5 and 4) and istanbul (Vitest 5) produce their report', async () => {
    for (const [major, provider] of [[5, 'v8'], [4, 'v8'], [5, 'istanbul']] as const) {
      const app = makeApp(major)
      const run = await runVitest(app, ['run', '--project', 'app', 'tests/math.test.js', ...jsonReporter(),
        '--coverage.enabled', `--coverage.provider=${provider}`, '--coverage.reporter=json-summary', '--coverage.include=src/**'])
      assert.equal(run.code, 0, `${provider} on Vitest ${major}:\n${run.output}`)
      const summaryFile = path.join(app, 'coverage/coverage-summary.json')
      assert.ok(fs.existsSync(summaryFile), `${provider} on Vitest ${major}: no coverage report\n${run.output}`)
      const summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as Record<string, { lines: { covered: number, total: number } }>
      const math = Object.entries(summary).find(([file]) => file.endsWith('src/math.js'))?.[1]
      assert.ok(math !== undefined && math.lines.covered > 0 && math.lines.covered < math.lines.total,
        `${provider} on Vitest ${major}: src/math.js partly covered: ${JSON.stringify(summary)}`)
    }
  })

  test('a worker killed by SIGKILL is reported as Vitest reports a crashed worker', async () => {
    const app = makeApp(5)
    const run = await runVitest(app, ['run', '--project', 'crash'])
    assert.equal(run.code, 1)
    assert.match(run.output, /Worker exited unexpectedly with signal SIGKILL .*while running test file \S*sigkill\.test\.js/)
  })

  test('a machine that cannot make sandboxes fails the run up front, before any test code runs; so do invalid options', async () => {
    const app = makeApp(5)
    const noTools = await runVitest(app, ['run', '--project', 'app', ...jsonReporter()], { env: { PATH: '/nonexistent' } })
    assert.equal(noTools.code, 1)
    assert.match(noTools.output, /this machine cannot create the sandboxes the config asks for, so no test file was run/)
    assert.match(noTools.output, /NSB_UTIL_LINUX_MISSING/)
    assert.equal(noTools.report, undefined, 'no test file was reported')
    assert.equal(evidence(app, 'identity.json'), undefined, 'no test code ran')

    fs.writeFileSync(path.join(app, 'invalid.config.js'), [
      "import { nsSandbox } from '@ns-sandbox/vitest'",
      "export default { plugins: [nsSandbox({ memory: 'lots', network: 'wifi', report: 'yes' })], test: { globals: true } }"
    ].join('\n'))
    const invalid = await runVitest(app, ['run', '--config', 'invalid.config.js'])
    assert.equal(invalid.code, 1)
    assert.match(invalid.output, /option `network`: expected one of loopback/)
    assert.match(invalid.output, /option `memory`: expected a size of at least 1MiB like 512MiB/)
    assert.match(invalid.output, /option `report`: expected true \(.*\), 'json' \(.*\) or false, got "yes"/)
    assert.equal(evidence(app, 'identity.json'), undefined)
  })

  test('an unprivileged user: the same sandboxes, with their own uid inside', async () => {
    const who = ensureTestUser()
    assertReadableByTestUser(who, path.join(REPO, 'packages/vitest-plugin/dist'))
    const app = makeApp(5, who)
    const marker = newMarker()
    const port = freePort()
    try {
      // Limits need a delegated cgroup as an unprivileged user, so the project without limits.
      const run = await runVitest(app, ['run', '--project', 'app', ...jsonReporter()],
        { who, env: { NSB_MARKER: marker, NSB_FIXTURE_PORT: String(port) } })
      assert.deepEqual(statusByFile(run.report, run.output), Object.fromEntries(APP_FILES.map((file) => [file, 'passed'])))
      assert.equal(run.code, 0, run.output)
      assert.deepEqual(evidence(app, 'identity.json'), { hostname: 'ns-sandbox', pid: 2, uid: who.uid })
      assert.deepEqual(hostTraces(marker, who.home, port), [])
      assert.ok(!fs.existsSync(path.join(app, 'generated-by-test.txt')))
    } finally {
      await cleanHost(marker, who.home)
    }
  })

  test('report: true prints the worst files after the run and writes ns-sandbox-report.json; \'json\' (Vitest 4) only writes it', async () => {
    const app = makeApp(5)
    const marker = newMarker()
    const port = freePort()
    const daemonPort = freePort()
    const reportFile = path.join(app, 'ns-sandbox-report.json')
    try {
      // NSB_DETACHED_PORT: the detached child of detached-child.test.js listens on that port.
      const run = await runVitest(app, ['run', '--project', 'app', ...jsonReporter()], {
        env: { NSB_REPORT: '1', NSB_MARKER: marker, NSB_FIXTURE_PORT: String(port), NSB_DETACHED_PORT: String(daemonPort) }
      })
      assert.equal(run.code, 0, run.output)
      const text = run.output.slice(run.output.indexOf('ns-sandbox report:'))
      assert.match(text, /^ns-sandbox report: 11 test files; 2 wrote outside \/tmp, 1 left processes running, 1 left ports listening \(worst first\)$/m, run.output)
      // Worst first: host-files (2 paths outside /tmp, one in /tmp), then detached-child and project-files (2 each).
      const listed = [...text.matchAll(/^ {2}(tests\/\S+) \[app\]: (.*)$/gm)].map((m) => `${m[1]}: ${m[2]}`)
      assert.deepEqual(listed, [
        'tests/host-files.test.js: 2 paths outside /tmp, 1 in /tmp',
        'tests/detached-child.test.js: 1 process left running, 1 port listening',
        'tests/project-files.test.js: 2 paths outside /tmp'
      ], text)
      assert.ok(text.includes(path.join(root.home, '.config', marker)), text)
      assert.ok(text.includes(`/etc/${marker}.conf`), text)
      assert.match(text, new RegExp(`process +pid \\d+ +.*${marker}-detached`))
      assert.match(text, new RegExp(`port +tcp +127\\.0\\.0\\.1:${daemonPort}$`, 'm'))
      assert.ok(text.includes(`per-file detail: ${reportFile}`), text)

      const document = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as {
        version: number, tool: string, root: string,
        sandboxes: Array<{ testFiles: string[], project?: string, report: { files: Array<{ path: string }>, ports: Array<{ port: number }> } }>
      }
      assert.equal(document.version, 1)
      assert.equal(document.tool, 'vitest')
      assert.equal(fs.realpathSync(document.root), fs.realpathSync(app))
      assert.deepEqual(document.sandboxes.flatMap((s) => s.testFiles).sort(), APP_FILES.map((file) => `tests/${file}`))
      const byFile = new Map(document.sandboxes.map((s) => [s.testFiles[0], s]))
      assert.equal(byFile.get('tests/host-files.test.js')?.project, 'app')
      assert.ok(byFile.get('tests/host-files.test.js')?.report.files.some((f) => f.path === `/tmp/${marker}-fixed.txt`), 'the JSON lists /tmp too')
      assert.deepEqual(byFile.get('tests/detached-child.test.js')?.report.ports.map((p) => p.port), [daemonPort])
      assert.deepEqual(hostTraces(marker, root.home, port), [], 'the report only describes: the host is unchanged')
      assert.ok(listeningPorts().has(daemonPort) === false, 'the daemon\'s port was the sandbox\'s')
    } finally {
      fs.rmSync(reportFile, { force: true })
      await cleanHost(marker, root.home)
    }

    const app4 = makeApp(4)
    const json = await runVitest(app4, ['run', '--project', 'app', 'tests/host-files.test.js', 'tests/math.test.js', ...jsonReporter()],
      { env: { NSB_REPORT: 'json', NSB_MARKER: marker } })
    try {
      assert.equal(json.code, 0, json.output)
      const file4 = path.join(app4, 'ns-sandbox-report.json')
      assert.match(json.output, new RegExp(`^ns-sandbox report: 2 test files, 1 wrote outside /tmp or left processes or ports: ${file4}$`, 'm'))
      assert.doesNotMatch(json.output, /per-file detail|\[app\]:/, 'no summary with \'json\'')
      const document = JSON.parse(fs.readFileSync(file4, 'utf8')) as { sandboxes: Array<{ testFiles: string[] }> }
      assert.deepEqual(document.sandboxes.map((s) => s.testFiles[0]), ['tests/host-files.test.js', 'tests/math.test.js'])
      fs.rmSync(file4)
    } finally {
      await cleanHost(marker, root.home)
    }
  })

  test('--watch: a re-run gets fresh sandboxes and its own run report; ending Vitest leaves nothing behind', async () => {
    const app = makeApp(5)
    const marker = newMarker()
    const file = path.join(app, 'tests/host-files.test.js')
    const summary = /^ns-sandbox report: 1 test file; 1 wrote outside \/tmp/gm
    let passes = 0
    let edited = false
    try {
      const run = await runVitest(app, ['--watch', '--project', 'app', 'tests/host-files.test.js'], {
        env: { NSB_MARKER: marker, NSB_REPORT: '1' },
        timeout: 90,
        onOutput: (output, child) => {
          passes = output.split('Waiting for file changes').length - 1
          const reports = output.match(summary)?.length ?? 0
          if (passes === 1 && reports === 1 && !edited) {
            edited = true // the same writes again (/etc, ~/.config, /tmp with O_EXCL) pass only in a fresh sandbox
            fs.appendFileSync(file, '\n// edited by the end-to-end test\n')
          } else if (passes === 2 && reports === 2) {
            try { process.kill(-(child.pid ?? 0), 'SIGTERM') } catch { /* gone */ }
          }
        }
      })
      assert.equal(passes, 2, run.output)
      assert.equal((run.output.match(/3 passed/g) ?? []).length, 2, run.output)
      assert.equal(run.output.match(summary)?.length, 2, `one run report per run:\n${run.output}`)
      assert.ok(fs.existsSync(path.join(app, 'ns-sandbox-report.json')))
      fs.rmSync(path.join(app, 'ns-sandbox-report.json'))
    } finally {
      await cleanHost(marker, root.home)
    }
    assert.deepEqual(hostTraces(marker, root.home, 0), [])
  })

  test('vitest list and --shard collect and run through the sandbox pool', async () => {
    const app = makeApp(5)
    const timings = path.join(app, 'timings.jsonl')
    // --staticParse=false: Vitest 5 collects by running the files (in workers) instead of parsing them
    const list = await runVitest(app, ['list', '--project', 'app', '--staticParse=false', '--json=list.json'], { env: { NS_SANDBOX_VITEST_TIMINGS: timings } })
    assert.equal(list.code, 0, list.output)
    const listed = JSON.parse(fs.readFileSync(path.join(app, 'list.json'), 'utf8')) as Array<{ name: string, file: string }>
    assert.ok(listed.some((entry) => entry.name === 'reads the hostname and its pid'), list.output)
    assert.equal(fs.readFileSync(timings, 'utf8').trim().split('\n').length, APP_FILES.length, 'one sandbox per collected file')

    // (not the port files: each waits for the other, which may be in the other shard)
    const shardable = ['tests/math', 'tests/identity', 'tests/network', 'tests/cwd-env']
    const shard = await runVitest(app, ['run', '--project', 'app', ...shardable, '--shard=1/2', ...jsonReporter()])
    const statuses = statusByFile(shard.report, shard.output)
    assert.equal(Object.keys(statuses).length, shardable.length / 2, shard.output)
    assert.ok(Object.values(statuses).every((status) => status === 'passed'), shard.output)
  })
})
