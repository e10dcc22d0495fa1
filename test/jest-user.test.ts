/**
 * End to end as an unprivileged user (`nsb-test`, created by the test run): Jest 30 with
 * the preset runs the app project of fixtures/jest-app from a copy the user owns. The
 * sandbox needs no privileges; the user's host files stay unchanged. In the default
 * isolation 'state', two files on one lane share the warm process and nothing else.
 *
 *   cd /work/main && node --import tsx --test test/jest-*.test.ts
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { assertReadableByTestUser, ensureTestUser } from './helpers/identity.js'
import {
  JEST30, ROOT, STATE_FILES, cleanUpHost, copyFixture, leftovers, messageOf, runJest, stateCheck, type FixtureCopy
} from './helpers/jest-fixture.js'

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

test('as an unprivileged user, isolation \'state\': two files on one lane share the warm process, not its files, processes or ports', async () => {
  const user = ensureTestUser()
  const fixture = await copyFixture(user, STATE_FILES)
  copies.push(fixture)
  try {
    const run = await runJest({ jest: JEST30(), fixture, identity: user, args: ['--ci', '-w', '1', '--selectProjects', 'app', '--testPathPatterns', 'state-'] })
    assert.equal(run.files.size, 2, run.output)
    const { failures, tokens, leftInProject } = stateCheck(run, fixture)
    assert.deepEqual(failures, [], 'the second file found what the first one left')
    assert.equal(tokens.length, 2, run.output)
    assert.equal(tokens[0], tokens[1], 'one warm process (the lane\'s) ran both files')
    assert.equal(leftInProject, false)
    assert.deepEqual(leftovers(fixture, user.home), [])
  } finally {
    cleanUpHost(fixture, user.home)
  }
})
