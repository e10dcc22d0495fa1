/**
 * Drop-in on real suites (issue #17), end to end on Vitest 5 and 4: fixtures/vitest-dropin
 * runs with @ns-sandbox/vitest as a subprocess, on a copy in a temp directory.
 *
 * - Projects of `test.projects` that do not inherit the root's plugins (inline without
 *   `extends`, `extends: false`) run in a sandbox too; a project config file without the
 *   plugin stops the run before any test file, naming it.
 * - A module a test file writes into /tmp and imports loads as under stock Vitest (same
 *   result per test), and the host never sees the file.
 *
 *   cd /work/main && npm run build && node scripts/run-tests.mjs test/vitest-dropin.test.ts
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { assertReadableByTestUser, ensureTestUser, rootIdentity, type Identity } from './helpers/identity.js'
import { runVitest as runVitestAs, statusByTest, type VitestRun } from './helpers/vitest-run.js'

const REPO = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const FIXTURE = path.join(REPO, 'fixtures/vitest-dropin')
const MODULES = { 5: path.join(REPO, 'node_modules'), 4: path.join(REPO, 'fixtures/runners/vitest4/node_modules') } as const
type Major = keyof typeof MODULES
const MAJORS: Major[] = [5, 4]

const root = rootIdentity()
const temps: string[] = []
after(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true })
})

/** A copy of the fixture whose node_modules resolves to Vitest `major` and the built packages. */
function makeApp (major: Major, owner: Identity = root): string {
  assert.ok(fs.existsSync(path.join(MODULES[major], 'vitest', 'package.json')), `Vitest ${major} is missing: run \`npm ci\` at the repository root`)
  assert.ok(fs.existsSync(path.join(REPO, 'packages/vitest-plugin/dist/index.js')), 'build first: npm run build')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nsb-dropin${major}-`))
  temps.push(dir)
  fs.cpSync(FIXTURE, dir, { recursive: true })
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

/** Vitest from the app's own node_modules (the copy's links), as `who`. */
function runVitest (app: string, args: string[], env: Record<string, string>, who: Identity = root): Promise<VitestRun> {
  return runVitestAs(app, path.join(app, 'node_modules/vitest/vitest.mjs'), args, env, who)
}

let markers = 0
function newMarker (): string {
  return `nsb-dropin-${process.pid}-${++markers}`
}

describe('@ns-sandbox/vitest drop-in (issue #17)', () => {
  for (const major of MAJORS) {
    test(`Vitest ${major}: inline projects without extends and a project config file with the plugin run sandboxed; /tmp modules load`, async () => {
      const app = makeApp(major)
      const marker = newMarker()
      const run = await runVitest(app, [], { NSB_MARKER: marker })
      assert.equal(run.code, 0, run.output)
      const files = (run.report?.testResults ?? []).map((file) => `${path.relative(app, file.name)}: ${file.status}`).sort()
      assert.deepEqual(files, [
        'imports/tmp-modules.test.js: passed',
        'inline/in-sandbox.test.js: passed', // project "inline" (no extends)
        'inline/in-sandbox.test.js: passed', // project "standalone" (extends: false)
        'packages/own/in-sandbox.test.js: passed'
      ], run.output)
      assert.ok(!fs.existsSync(`/tmp/${marker}-modules`), 'the modules the test file wrote stayed in its sandbox')
    })

    test(`Vitest ${major}: the /tmp module tests have the same result per test as under stock Vitest`, async () => {
      const app = makeApp(major)
      // (a marker each: the stock run leaves its modules on the host, where the main process would find them)
      const [stockMarker, marker] = [newMarker(), newMarker()]
      try {
        const stock = await runVitest(app, ['--project', 'imports'], { NSB_STOCK: '1', NSB_MARKER: stockMarker })
        const sandboxed = await runVitest(app, ['--project', 'imports'], { NSB_MARKER: marker })
        const expected = statusByTest(stock, app)
        assert.ok(Object.values(expected).filter((status) => status === 'passed').length >= 5, `stock:\n${stock.output}`)
        assert.deepEqual(statusByTest(sandboxed, app), expected, sandboxed.output)
        assert.ok(!fs.existsSync(`/tmp/${marker}-modules`), 'the sandboxed run\'s modules stayed in its sandbox')
      } finally {
        fs.rmSync(`/tmp/${stockMarker}-modules`, { recursive: true, force: true })
      }
    })

    test(`Vitest ${major}: a project config file without the plugin stops the run before any test file, naming it`, async () => {
      const app = makeApp(major)
      const marker = newMarker()
      const ran = `/tmp/${marker}-bare-ran`
      try {
        const run = await runVitest(app, [], { NSB_BARE_PROJECT: '1', NSB_MARKER: marker })
        assert.equal(run.code, 1, run.output)
        assert.match(run.output, /\[ns-sandbox\] project "bare" \(packages\/bare\/vitest\.config\.js\) has no ns-sandbox plugin, so its test files would run outside a sandbox; no test file was run/)
        assert.match(run.output, /add `plugins: \[nsSandbox\(\)\]` to its config/)
        assert.ok(!fs.existsSync(ran), 'the bare project\'s test file did not run')
        assert.equal(run.report, undefined, 'no test file was reported')
      } finally {
        fs.rmSync(ran, { force: true })
      }
    })
  }

  test('stock Vitest: the inline projects run on the host (what the plugin now prevents)', async () => {
    const app = makeApp(5)
    const run = await runVitest(app, ['--project', 'inline', '--project', 'standalone'], { NSB_STOCK: '1' })
    assert.equal(run.code, 1)
    // (one file in both projects)
    assert.deepEqual(run.report?.testResults.map((file) => file.status), ['failed', 'failed'], run.output)
  })

  test('an unprivileged user: the same, with the inline projects and /tmp modules', async () => {
    const who = ensureTestUser()
    assertReadableByTestUser(who, path.join(REPO, 'packages/vitest-plugin/dist'))
    const app = makeApp(5, who)
    const marker = newMarker()
    const run = await runVitest(app, ['--project', 'inline', '--project', 'standalone', '--project', 'imports'], { NSB_MARKER: marker }, who)
    assert.equal(run.code, 0, run.output)
    assert.ok(Object.values(statusByTest(run, app)).every((status) => status === 'passed' || status === 'skipped'), run.output)
    assert.ok(!fs.existsSync(`/tmp/${marker}-modules`))
  })
})
