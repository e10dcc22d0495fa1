/** The README's main-job command, through the bin link `npm ci` creates, as root and as an unprivileged user. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { assertReadableByTestUser, identities } from './helpers/identity.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

for (const who of identities()) {
  it(`npx ns-sandbox run works as the README shows, and ~/hello stays inside (as ${who.name})`, () => {
    const bin = path.join(root, 'node_modules/.bin/ns-sandbox')
    assert.ok(fs.existsSync(bin), `${bin} is missing: npm ci should link it`)
    assertReadableByTestUser(who, bin)
    const { file, args } = who.wrap(bin, ['run', '--hostname', 'box', '--', 'sh', '-c',
      'hostname; id -u; echo "PID $$"; ls /proc | grep -c "^[0-9]"; echo hi > ~/hello && cat ~/hello'])
    const run = spawnSync(file, args, { encoding: 'utf8', cwd: root, env: { ...who.env, HOME: who.home } })
    assert.equal(run.status, 0, run.stderr)
    const [hostname, uid, pid, processes, hello] = run.stdout.trim().split('\n')
    assert.equal(hostname, 'box')
    assert.equal(uid, String(who.uid))
    assert.equal(pid, 'PID 2')
    assert.ok(Number(processes) <= 6, `${processes ?? ''} processes`)
    assert.equal(hello, 'hi')
    assert.equal(fs.existsSync(path.join(who.home, 'hello')), false)
  })
}
