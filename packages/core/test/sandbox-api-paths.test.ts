/**
 * Paths the API caller names: `keep` brings hidden host paths back copy-on-write, and
 * `~` in a mask is the HOME the caller gives the sandbox (`env`), not the runner's.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { identities, type Identity } from '../../../test/helpers/identity.js'
import { CORE_DIR, tempDirFor } from './helpers/cli.js'

const RUNNER = `
import { runSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
import { spawnSync } from 'node:child_process'
const [kept, altHome] = process.argv.slice(2)
const sh = async (script, options) => {
  const output = []
  const { spawnSandbox } = await import(${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))})
  const sandbox = await spawnSandbox({ command: 'sh', args: ['-c', script], stdio: ['ignore', 'pipe', 'inherit'], ...options })
  sandbox.child.stdout.on('data', (chunk) => output.push(chunk))
  await sandbox.result
  return Buffer.concat(output).toString().trim()
}
const results = {
  keep: await sh('cat ' + kept + '/data && echo inside > ' + kept + '/data && cat ' + kept + '/data', { keep: [kept] }),
  hidden: await sh('cat ' + kept + '/data 2>/dev/null || echo hidden', {}),
  mask: await sh('grep -q SECRET ' + altHome + '/secret.txt 2>/dev/null && echo readable || echo masked', { env: { ...process.env, HOME: altHome }, mask: ['~/secret.txt'] })
}
console.log(JSON.stringify(results))
`

function runAs (who: Identity): Record<string, string> {
  const work = tempDirFor(who, 'nsb-api-paths-', who.home)
  const kept = tempDirFor(who, 'nsb-kept-', os.tmpdir()) // under /tmp: a fresh /tmp hides it
  try {
    fs.writeFileSync(path.join(kept.dir, 'data'), 'host\n')
    fs.chownSync(path.join(kept.dir, 'data'), who.uid, who.gid)
    fs.writeFileSync(path.join(work.dir, 'secret.txt'), 'SECRET\n')
    fs.chownSync(path.join(work.dir, 'secret.txt'), who.uid, who.gid)
    fs.writeFileSync(path.join(work.dir, 'runner.mjs'), RUNNER)
    const { file, args } = who.wrap(process.execPath, [path.join(work.dir, 'runner.mjs'), kept.dir, work.dir])
    const run = spawnSync(file, args, { cwd: work.dir, env: who.env, encoding: 'utf8', timeout: 60_000 })
    assert.equal(run.status, 0, run.stderr)
    assert.equal(fs.readFileSync(path.join(kept.dir, 'data'), 'utf8'), 'host\n', 'a kept path is copy-on-write')
    return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}')
  } finally {
    work.remove()
    kept.remove()
  }
}

for (const who of identities()) {
  describe(`paths named through the API as ${who.name}`, () => {
    it('keep shows a host path a fresh /tmp hides, copy-on-write; ~ in a mask is the sandbox\'s HOME', () => {
      assert.deepEqual(runAs(who), { keep: 'host\ninside', hidden: 'hidden', mask: 'masked' })
    })
  })
}
