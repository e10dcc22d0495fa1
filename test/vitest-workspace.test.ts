/**
 * End to end: an npm workspace under /tmp (fixtures/vitest-workspace), its node_modules
 * hoisted to the workspace root, above the directory Vitest runs from (packages/app). A
 * sandbox gets a fresh /tmp and brings back only the cwd and the worker's entry file, so
 * the pool must bring back the rest Vitest's worker loads: Vitest's package (its chunks
 * beside the entry), this plugin, the hoisted node_modules and the workspace package they
 * link to. Stock Vitest 5 and the plugin give every test the same outcome, as root and as
 * an unprivileged user.
 *
 * node_modules is a hard-linked copy of the repository's (a real directory under /tmp,
 * not a link to a tree the sandbox would see anyway); the two packages of this
 * repository are copied as npm would install them.
 *
 *   cd /work/main && npm run build && node scripts/run-tests.mjs test/vitest-workspace.test.ts
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { assertReadableByTestUser, identities, type Identity } from './helpers/identity.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const WORKSPACE = path.join(ROOT, 'fixtures', 'vitest-workspace')
const removals: Array<() => void> = []
after(() => { for (const remove of removals) remove() })

/** A package of this repository, as its `files` ship it. */
function installPackage (from: string, to: string, files: string[]): void {
  fs.mkdirSync(to, { recursive: true })
  for (const file of ['package.json', ...files]) fs.cpSync(path.join(ROOT, from, file), path.join(to, file), { recursive: true })
}

/** The workspace under /tmp (a fresh tmpfs in every sandbox), node_modules hoisted to its root; returns packages/app. */
function workspaceUnderTmp (owner: Identity): string {
  assert.ok(fs.existsSync(path.join(ROOT, 'packages/vitest-plugin/dist/index.js')), 'build first: npm run build')
  const root = fs.mkdtempSync('/tmp/nsb-vitest-workspace-')
  removals.push(() => { fs.rmSync(root, { recursive: true, force: true }) })
  fs.cpSync(WORKSPACE, root, { recursive: true })
  if (owner.uid !== 0) execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, root])
  fs.chmodSync(root, 0o755)
  // Hard links: a real tree under /tmp in a fraction of a second. Never chowned (the links share the repository's inodes).
  const nodeModules = path.join(root, 'node_modules')
  execFileSync('cp', ['-al', path.join(ROOT, 'node_modules'), nodeModules])
  fs.rmSync(path.join(nodeModules, '@ns-sandbox'), { recursive: true })
  installPackage('packages/vitest-plugin', path.join(nodeModules, '@ns-sandbox', 'vitest'), ['dist'])
  installPackage('packages/core', path.join(nodeModules, '@ns-sandbox', 'core'), ['dist', 'bin'])
  fs.mkdirSync(path.join(nodeModules, '@nsb-fixture'))
  fs.symlinkSync('../../packages/lib', path.join(nodeModules, '@nsb-fixture', 'vlib'))
  return path.join(root, 'packages', 'app')
}

interface JsonFile { name: string, assertionResults: Array<{ fullName: string, status: string }> }
interface Run { code: number | null, output: string, outcomes: string[][] }

async function runVitest (app: string, who: Identity, mode: 'stock' | 'sandbox'): Promise<Run> {
  const report = path.join(app, `report-${mode}.json`)
  const command = who.wrap(process.execPath, [path.join(app, '../../node_modules/vitest/vitest.mjs'), 'run', '--reporter=json', `--outputFile=${report}`])
  const child = spawn(command.file, command.args, {
    cwd: app,
    env: { ...who.env, HOME: who.home, FORCE_COLOR: '0', NO_COLOR: '1', NSB_WORKSPACE_MODE: mode },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const timer = setTimeout(() => { try { process.kill(-(child.pid ?? 0), 'SIGKILL') } catch { /* gone */ } }, 120_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  assert.ok(fs.existsSync(report), `no JSON report was written (${mode}, exit ${String(code)}):\n${output}`)
  const files = (JSON.parse(fs.readFileSync(report, 'utf8')) as { testResults: JsonFile[] }).testResults
  const outcomes = files.flatMap((file) => file.assertionResults.map((t) => [`${path.relative(app, file.name)} > ${t.fullName}`, t.status])).sort()
  return { code, output, outcomes }
}

describe('a workspace under /tmp, node_modules hoisted above the cwd (Vitest 5)', () => {
  for (const identity of identities()) {
    test(`as ${identity.name}: every test has the outcome it has with stock Vitest (all pass)`, async () => {
      if (identity.uid !== 0) assertReadableByTestUser(identity, ROOT)
      const app = workspaceUnderTmp(identity)
      const stock = await runVitest(app, identity, 'stock')
      assert.deepEqual(stock.outcomes, [
        'app.test.js > a sibling workspace package resolves through the hoisted node_modules',
        'app.test.js > runs in a sandbox exactly when the plugin is configured',
        'app.test.js > the project directory is writable',
        'second.test.js > a sibling workspace package resolves through the hoisted node_modules'
      ].map((name) => [name, 'passed']), stock.output)
      const sandboxed = await runVitest(app, identity, 'sandbox')
      assert.deepEqual(sandboxed.outcomes, stock.outcomes, sandboxed.output)
      assert.equal(sandboxed.code, 0, sandboxed.output)
      // The sandbox wrote into its copy-on-write view of the project, not into the host's.
      assert.deepEqual(fs.readdirSync(app).filter((name) => name.startsWith('written-')), [])
    })
  }
})
