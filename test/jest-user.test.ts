/**
 * End to end as an unprivileged user (`nsb-test`, created by the test run): Jest 30 with
 * the preset runs the app project of fixtures/jest-app from a copy the user owns. The
 * sandbox needs no privileges; the user's host files stay unchanged.
 *
 *   cd /work/main && node --import tsx --test test/jest-*.test.ts
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { assertReadableByTestUser, ensureTestUser } from './helpers/identity.js'
import { JEST30, ROOT, cleanUpHost, copyFixture, leftovers, messageOf, runJest, type FixtureCopy } from './helpers/jest-fixture.js'

const copies: FixtureCopy[] = []
after(() => { for (const copy of copies) copy.remove() })

test('as an unprivileged user: every app file passes in its sandbox, nothing is left on the host', async () => {
  const user = ensureTestUser()
  assertReadableByTestUser(user, ROOT)
  const fixture = await copyFixture(user)
  copies.push(fixture)
  try {
    const run = await runJest({ jest: JEST30(), fixture, identity: user, args: ['--ci=false', '--selectProjects', 'app'] })
    assert.equal(run.files.size, 11, run.output)
    for (const [file, result] of run.files) assert.equal(result.status, 'passed', `${file}: ${messageOf(run, file)}`)
    assert.equal(run.json.snapshot.added, 2)
    assert.deepEqual(leftovers(fixture, user.home), [])
  } finally {
    cleanUpHost(fixture, user.home)
  }
})
