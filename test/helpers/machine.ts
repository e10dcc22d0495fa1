/**
 * Tests that need something of the machine (root, a cgroup hierarchy, a Debian package).
 * On a developer's machine without it they are skipped and the reason is printed; in CI
 * (CI=true), where .ci/run provides everything, a missing feature fails the run: a
 * missing feature must never pass quietly there.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'

/** The `skip` option for a group needing `missing === false`; in CI a failing test names what is missing instead. */
export function needsMachine (missing: string | false): string | false {
  if (missing === false) return false
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') {
    test(`this machine has what the tests need: ${missing}`, () => { assert.fail(`${missing}: CI must provide it`) })
  }
  return missing
}
