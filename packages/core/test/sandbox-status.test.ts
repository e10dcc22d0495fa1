/**
 * The status channel cannot be turned against the host (issue #16): test code holds no
 * end of it, cannot reach the init's end, and a pid written on it is never signalled.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { identities, type Identity } from '../../../test/helpers/identity.js'
import { CORE_DIR, runScriptAs, sandboxSh } from './helpers/cli.js'

/**
 * The attack as the old code allowed it: write a `started` naming a host pid (and a false
 * `init-exit`) on every socket the test's process holds, then wait to be stopped.
 */
const FORGER = `const fs = require('fs')
const decoy = Number(process.argv[2])
const forged = [{ type: 'started', pid: decoy, initPid: decoy }, { type: 'init-exit', status: 0 }]
  .map((message) => JSON.stringify(message) + String.fromCharCode(10)).join('')
const sockets = fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => {
  try { return fd > 2 && fs.readlinkSync('/proc/self/fd/' + fd).startsWith('socket:') } catch { return false }
})
for (const fd of sockets) { try { fs.writeSync(fd, forged) } catch {} }
process.stdout.write(JSON.stringify({ sockets }) + String.fromCharCode(10))
setInterval(() => {}, 1000)
`

/** Starts a decoy host process, then the forger twice: stopped by kill(), and by the timeout. */
const RUNNER = `
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { spawnSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
const decoy = spawn('sleep', ['1000'], { stdio: 'ignore' })
const alive = () => { try { process.kill(decoy.pid, 0); return true } catch { return false } }
const results = {}
for (const how of ['kill', 'timeout']) {
  const sandbox = await spawnSandbox({ entry: 'forger.cjs', args: [String(decoy.pid)], stdio: ['ignore', 'pipe', 'inherit'], ...(how === 'timeout' ? { timeout: '2s' } : {}) })
  const [line] = await once(sandbox.child.stdout, 'data')
  if (how === 'kill') sandbox.kill('SIGTERM')
  const { code, signal, reason } = await sandbox.result
  await new Promise((resolve) => setTimeout(resolve, 200))
  results[how] = { held: JSON.parse(String(line)).sockets, code, signal, reason: reason ?? null, decoyAlive: alive() }
}
decoy.kill('SIGKILL')
console.log(JSON.stringify(results))
`

function attack (who: Identity): Record<'kill' | 'timeout', { held: number[], code: number | null, signal: string | null, reason: string | null, decoyAlive: boolean }> {
  return runScriptAs(who, 'nsb-forge-', { 'runner.mjs': RUNNER, 'forger.cjs': FORGER })
}

for (const who of identities()) {
  describe(`the status channel as ${who.name}`, () => {
    it('is not held by the test\'s process, and a forged pid is never signalled', () => {
      const results = attack(who)
      assert.deepEqual(results.kill, { held: [], code: null, signal: 'SIGTERM', reason: null, decoyAlive: true },
        'kill() signals the sandbox\'s own PID 2, found in /proc')
      assert.deepEqual(results.timeout, { held: [], code: null, signal: 'SIGKILL', reason: 'timeout', decoyAlive: true })
    })

    it('keeps the init out of the command\'s reach: no ptrace, no /proc/1/fd, no /proc/1/mem', () => {
      const run = sandboxSh(who, [], 'readlink /proc/1/fd/0 >/dev/null 2>&1; echo "fd $?"; head -c1 /proc/1/mem >/dev/null 2>&1; echo "mem $?"; cat /proc/1/cmdline | tr "\\0" " "; echo')
      assert.equal(run.status, 0, run.stderr)
      assert.deepEqual(run.stdout.trim().split('\n'), ['fd 1', 'mem 1', 'ns-sandbox-init'])
    })
  })
}
