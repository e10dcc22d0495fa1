/** The README's main-job command, through the bin link `npm ci` creates. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

it('npx ns-sandbox run works as the README shows, and /etc/hello stays inside', () => {
  const bin = path.join(root, 'node_modules/.bin/ns-sandbox')
  assert.ok(fs.existsSync(bin), `${bin} is missing: npm ci should link it`)
  const run = spawnSync(bin, ['run', '--hostname', 'box', '--', 'sh', '-c',
    'hostname; id -u; echo "PID $$"; ls /proc | grep -c "^[0-9]"; echo hi > /etc/hello && cat /etc/hello'], { encoding: 'utf8', cwd: root })
  assert.equal(run.status, 0, run.stderr)
  const [hostname, uid, pid, processes, hello] = run.stdout.trim().split('\n')
  assert.equal(hostname, 'box')
  assert.equal(uid, String(process.getuid?.()))
  assert.equal(pid, 'PID 2')
  assert.ok(Number(processes) <= 6, `${processes ?? ''} processes`)
  assert.equal(hello, 'hi')
  assert.equal(fs.existsSync('/etc/hello'), false)
})
