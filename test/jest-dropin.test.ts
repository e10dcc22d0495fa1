/**
 * End to end: the sandbox as a drop-in for a suite configured as real suites are
 * (fixtures/jest-dropin: testEnvironment 'node', the ts-jest preset, a custom
 * environment). Stock Jest runs it, then the same config with only `runner` added: every
 * test has the same outcome (each asserts where it runs), process.argv looks like a
 * stock Jest worker's, and a sandbox option given directly in testEnvironmentOptions is
 * warned about, once.
 *
 *   cd /work/main && node scripts/run-tests.mjs test/jest-dropin.test.ts
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { rootIdentity } from './helpers/identity.js'
import { JEST29, JEST30, ROOT, copyFixture, outcomesOf, runJest, type FixtureCopy } from './helpers/jest-fixture.js'

const DROPIN = path.join(ROOT, 'fixtures', 'jest-dropin')
const root = rootIdentity()
const copies: FixtureCopy[] = []
after(() => { for (const copy of copies) copy.remove() })

const EXPECTED = [
  'custom/custom.test.js > runs in a sandbox exactly when the runner is configured',
  'custom/custom.test.js > the project\'s custom environment set up this file',
  'node/argv.test.js > a strict command-line parser accepts it',
  'node/argv.test.js > process.argv is [node, script], as in a stock Jest worker',
  'node/where.test.js > in the project\'s own environment (jest-environment-node, no nsSandbox global)',
  'node/where.test.js > runs in a sandbox exactly when the runner is configured',
  'ts/typed.test.ts > compiled by ts-jest, run where the config says'
]

const MISPLACED = /jest-environment-ns-sandbox: warning: testEnvironmentOptions of project "node" \([^)]*\) has `memory`, which is a sandbox option/g

for (const version of [JEST30, JEST29]) {
  describe(`${version().name}: a suite's own configuration plus the runner`, () => {
    test('every test has the outcome it has with stock Jest (all pass); a misplaced sandbox option is warned about once', async () => {
      const jest = version()
      const fixture = await copyFixture(undefined, {}, DROPIN)
      copies.push(fixture)
      // A fresh cache has no timings, so stock Jest runs these files in its workers, whose
      // process.argv the sandbox's must match (in band, process.argv is the CLI's own).
      const args = ['--ci', '-w', '2', `--cacheDirectory=${path.join(fixture.dir, '.jest-cache')}`]
      const stock = await runJest({ jest, fixture, identity: root, env: { NSB_DROPIN_MODE: 'stock' }, args })
      assert.deepEqual(outcomesOf(stock), EXPECTED.map((name) => [name, 'passed']), stock.output)
      assert.doesNotMatch(stock.output, MISPLACED)

      const sandboxed = await runJest({ jest, fixture, identity: root, env: { NSB_DROPIN_MODE: 'sandbox' }, args })
      assert.deepEqual(outcomesOf(sandboxed), outcomesOf(stock), sandboxed.output)
      assert.equal(sandboxed.output.match(MISPLACED)?.length, 1, sandboxed.output)
    })
  })
}
