/**
 * Node entries through the API: loaded the way `node entry` loads them, talking over the
 * IPC channel, and ending with the status plain Node would give.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { identities, type Identity } from '../../../test/helpers/identity.js'
import { CORE_DIR, runScriptAs } from './helpers/cli.js'

const ENTRIES: Record<string, string> = {
  'main.cjs': `process.send({ isMain: require.main === module, argv: process.argv.slice(2), pid: process.pid })
process.on('message', (m) => { process.exitCode = m.code; process.disconnect() })`,
  'exit137.cjs': 'process.exit(137)',
  'killed.cjs': "process.kill(process.pid, 'SIGKILL')",
  'throws.cjs': "throw new Error('entry failed')",
  'module.mjs': 'process.send({ esm: typeof require === "undefined", url: import.meta.url.startsWith("file:") }, () => process.disconnect())',
  'unsettled.mjs': 'await new Promise(() => {})',
  // Every thread of the test's process, V8's own (started with Node) and the thread pool's:
  // capabilities are per thread, and native code can run on any of them.
  'threads.cjs': `const fs = require('fs')
fs.readFile(__filename, () => {
  const threads = fs.readdirSync('/proc/self/task').map((tid) => {
    const status = fs.readFileSync('/proc/self/task/' + tid + '/status', 'utf8')
    const field = (name) => status.split(String.fromCharCode(10)).find((line) => line.startsWith(name + ':')).slice(name.length + 1).trim()
    return { tid, CapPrm: field('CapPrm'), CapEff: field('CapEff'), NoNewPrivs: field('NoNewPrivs') }
  })
  process.send({ threads }, () => process.disconnect())
})`
}

/** Runs every entry through spawnSandbox as `who`; prints one JSON line per entry. */
const RUNNER = `
import { spawnSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
const results = {}
for (const entry of ${JSON.stringify(Object.keys(ENTRIES))}) {
  const sandbox = await spawnSandbox({ entry, args: ['a', 'b c'], ipc: true, stdio: ['ignore', 'ignore', 'pipe'] })
  const messages = []
  let stderr = ''
  sandbox.child.stderr.on('data', (chunk) => { stderr += chunk })
  sandbox.on('message', (message) => { messages.push(message); if (entry === 'main.cjs') sandbox.send({ code: 7 }) })
  const { code, signal } = await sandbox.result
  results[entry] = { code, signal, messages, stderr }
}
console.log(JSON.stringify(results))
`

function runAs (who: Identity): Record<string, { code: number | null, signal: string | null, messages: Array<Record<string, unknown>>, stderr: string }> {
  return runScriptAs(who, 'nsb-entry-', { 'runner.mjs': RUNNER, ...ENTRIES })
}

for (const who of identities()) {
  describe(`Node entries as ${who.name}`, () => {
    it('load and end as under plain node', () => {
      const results = runAs(who)
      const main = results['main.cjs']
      assert.deepEqual(main?.messages, [{ isMain: true, argv: ['a', 'b c'], pid: 2 }], 'a CommonJS entry is the main module, PID 2, with its args')
      assert.deepEqual({ code: main?.code, signal: main?.signal }, { code: 7, signal: null }, 'the host\'s message set the exit code')
      assert.deepEqual(results['module.mjs']?.messages, [{ esm: true, url: true }])
      assert.equal(results['module.mjs']?.code, 0)
      assert.deepEqual({ code: results['exit137.cjs']?.code, signal: results['exit137.cjs']?.signal }, { code: 137, signal: null })
      assert.deepEqual({ code: results['killed.cjs']?.code, signal: results['killed.cjs']?.signal }, { code: null, signal: 'SIGKILL' })
      assert.equal(results['throws.cjs']?.code, 1)
      assert.match(results['throws.cjs']?.stderr ?? '', /Error: entry failed/)
      assert.equal(results['unsettled.mjs']?.code, 13, 'an unsettled top-level await exits 13, as with plain node')
    })

    it('never had capabilities in any thread of the entry\'s process', () => {
      const threads = (runAs(who)['threads.cjs']?.messages[0]?.threads ?? []) as Array<Record<string, string>>
      assert.ok(threads.length >= 5, `V8's and the thread pool's threads are listed: ${JSON.stringify(threads)}`)
      for (const thread of threads) {
        assert.deepEqual(thread, { tid: thread.tid, CapPrm: '0000000000000000', CapEff: '0000000000000000', NoNewPrivs: '1' })
      }
    })
  })
}
