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
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { assertReadableByTestUser, identities, type Identity } from './helpers/identity.js'
import { ROOT, installPackage, workspaceUnderTmp } from './helpers/jest-fixture.js'
import { runVitest, statusByTest, type VitestRun } from './helpers/vitest-run.js'
const WORKSPACE = path.join(ROOT, 'fixtures', 'vitest-workspace')
const removals: Array<() => void> = []
after(() => { for (const remove of removals) remove() })

/** The workspace under /tmp, node_modules hoisted to its root, this repository's packages installed; returns packages/app. */
function vitestWorkspace (owner: Identity): string {
  assert.ok(fs.existsSync(path.join(ROOT, 'packages/vitest-plugin/dist/index.js')), 'build first: npm run build')
  const { root, nodeModules, remove } = workspaceUnderTmp(WORKSPACE, owner)
  removals.push(remove)
  fs.rmSync(path.join(nodeModules, '@ns-sandbox'), { recursive: true })
  installPackage('packages/vitest-plugin', path.join(nodeModules, '@ns-sandbox', 'vitest'), ['dist'])
  installPackage('packages/core', path.join(nodeModules, '@ns-sandbox', 'core'), ['dist', 'bin'])
  fs.mkdirSync(path.join(nodeModules, '@nsb-fixture'))
  fs.symlinkSync('../../packages/lib', path.join(nodeModules, '@nsb-fixture', 'vlib'))
  return path.join(root, 'packages', 'app')
}

/** Vitest from the workspace's hoisted node_modules, with or without the plugin; "file > test" -> status. */
async function outcomes (app: string, who: Identity, mode: 'stock' | 'sandbox'): Promise<{ run: VitestRun, byTest: Record<string, string> }> {
  const run = await runVitest(app, path.join(app, '../../node_modules/vitest/vitest.mjs'), [], { NSB_WORKSPACE_MODE: mode }, who)
  return { run, byTest: statusByTest(run, app) }
}

describe('a workspace under /tmp, node_modules hoisted above the cwd (Vitest 5)', () => {
  for (const identity of identities()) {
    test(`as ${identity.name}: every test has the outcome it has with stock Vitest (all pass)`, async () => {
      if (identity.uid !== 0) assertReadableByTestUser(identity, ROOT)
      const app = vitestWorkspace(identity)
      const stock = await outcomes(app, identity, 'stock')
      assert.deepEqual(stock.byTest, Object.fromEntries([
        'app.test.js > runs in a sandbox exactly when the plugin is configured',
        'app.test.js > a sibling workspace package resolves through the hoisted node_modules',
        'app.test.js > the project directory is writable',
        'second.test.js > a sibling workspace package resolves through the hoisted node_modules'
      ].map((name) => [name, 'passed'])), stock.run.output)
      const sandboxed = await outcomes(app, identity, 'sandbox')
      assert.deepEqual(sandboxed.byTest, stock.byTest, sandboxed.run.output)
      assert.equal(sandboxed.run.code, 0, sandboxed.run.output)
      // The sandbox wrote into its copy-on-write view of the project, not into the host's.
      assert.deepEqual(fs.readdirSync(app).filter((name) => name.startsWith('written-')), [])
    })
  }
})
