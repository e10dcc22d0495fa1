/**
 * End to end: an npm workspace under /tmp (fixtures/jest-workspace), with its
 * node_modules hoisted to the workspace root, above the directory Jest runs from
 * (packages/app). A sandbox gets a fresh /tmp and core brings back only the cwd, so the
 * runner must bring back the rest the Jest child loads: this package, Jest, the hoisted
 * node_modules and the workspace package they link to. Stock Jest 30 and the runner give
 * every test the same outcome, as root and as an unprivileged user.
 *
 * node_modules is a hard-linked copy of the repository's (a real directory under /tmp,
 * not a link to a tree the sandbox would see anyway); the two packages of this
 * repository are copied as npm would install them.
 *
 *   cd /work/main && node scripts/run-tests.mjs test/jest-workspace.test.ts
 */
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { assertReadableByTestUser, identities, type Identity } from './helpers/identity.js'
import { ROOT, freePort, installPackage, jestAt, outcomesOf, runJest, workspaceUnderTmp, type FixtureCopy } from './helpers/jest-fixture.js'

const WORKSPACE = path.join(ROOT, 'fixtures', 'jest-workspace')
const removals: Array<() => void> = []
after(() => { for (const remove of removals) remove() })

/** The workspace under /tmp, node_modules hoisted to its root, this repository's packages installed. */
async function jestWorkspace (owner: Identity): Promise<{ root: string, app: FixtureCopy }> {
  const { root, nodeModules, remove } = workspaceUnderTmp(WORKSPACE, owner)
  removals.push(remove)
  for (const link of ['jest-environment-ns-sandbox', '@ns-sandbox']) fs.rmSync(path.join(nodeModules, link), { recursive: true })
  installPackage('packages/jest-env', path.join(nodeModules, 'jest-environment-ns-sandbox'), ['jest-preset.js', 'dist'])
  installPackage('packages/core', path.join(nodeModules, '@ns-sandbox', 'core'), ['dist', 'bin'])
  fs.mkdirSync(path.join(nodeModules, '@nsb-fixture'))
  fs.symlinkSync('../../packages/lib', path.join(nodeModules, '@nsb-fixture', 'lib'))
  const app = path.join(root, 'packages', 'app')
  return { root, app: { dir: app, marker: `nsb-ws-${crypto.randomBytes(4).toString('hex')}`, port: await freePort(), remove: () => {} } }
}

describe('a workspace under /tmp, node_modules hoisted above the cwd (Jest 30)', () => {
  for (const identity of identities()) {
    test(`as ${identity.name}: every test has the outcome it has with stock Jest (all pass)`, async () => {
      if (identity.uid !== 0) assertReadableByTestUser(identity, ROOT)
      const { root, app } = await jestWorkspace(identity)
      const jest = jestAt('jest30', path.join(root, 'node_modules'))
      const stock = await runJest({ jest, fixture: app, identity, env: { NSB_WORKSPACE_MODE: 'stock' }, args: ['--ci'] })
      assert.deepEqual(outcomesOf(stock), [
        'app.test.js > a sibling workspace package resolves through the hoisted node_modules',
        'app.test.js > runs in a sandbox exactly when the runner is configured',
        'app.test.js > the project directory is writable',
        'second.test.js > a sibling workspace package resolves through the hoisted node_modules'
      ].map((name) => [name, 'passed']), stock.output)
      const sandboxed = await runJest({ jest, fixture: app, identity, env: { NSB_WORKSPACE_MODE: 'sandbox' }, args: ['--ci'] })
      assert.deepEqual(outcomesOf(sandboxed), outcomesOf(stock), sandboxed.output)
      // The sandbox wrote into its copy-on-write view of the project, not into the host's.
      assert.deepEqual(fs.readdirSync(app.dir).filter((name) => name.startsWith('written-')), [])
    })
  }
})
