/**
 * reset(): one warm process, a fresh sandbox state for each job (what a test runner's
 * worker needs between test files): what one job left is gone for the next.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { identities, type Identity } from '../../../test/helpers/identity.js'
import { CORE_DIR, runScriptAs } from './helpers/cli.js'

/** Each job: look at what earlier jobs left, then leave some of it again. */
const WORKER = `const fs = require('fs')
const net = require('net')
const { spawn, execFileSync } = require('child_process')
/** System V IPC objects of the sandbox's IPC namespace (lines after each table's header). */
const ipcObjects = () => ['shm', 'sem', 'msg'].flatMap((table) => fs.readFileSync('/proc/sysvipc/' + table, 'utf8').trim().split('\\n').slice(1))
const project = process.cwd()
process.on('message', async (job) => {
  process.chdir(project) // the reset left this process's cwd in the old tree
  const seen = {
    job: job.n,
    pid: process.pid,
    tmp: fs.existsSync('/tmp/left-by-a-job'),
    shm: fs.existsSync('/dev/shm/left-by-a-job'),
    project: fs.readdirSync('.').filter((name) => name.startsWith('written-')).sort(),
    etc: fs.existsSync('/etc/left-by-a-job'),
    ipc: ipcObjects().length,
    // Running processes: a killed child of this one stays a zombie until libuv reaps it.
    processes: fs.readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name) && !/\\) Z /.test(fs.readFileSync('/proc/' + name + '/stat', 'utf8'))).length,
    port: await new Promise((resolve) => {
      const probe = net.createServer().once('error', () => resolve('taken')).listen(4321, '127.0.0.1', () => probe.close(() => resolve('free')))
    })
  }
  fs.writeFileSync('/tmp/left-by-a-job', 'x')
  fs.writeFileSync('/dev/shm/left-by-a-job', 'x')
  fs.writeFileSync('written-' + job.n, 'x')
  try { fs.writeFileSync('/etc/left-by-a-job', 'x') } catch {}
  for (const kind of [['-M', '4096'], ['-S', '1'], ['-Q']]) execFileSync('ipcmk', kind, { stdio: 'ignore' })
  if (ipcObjects().length !== seen.ipc + 3) throw new Error('ipcmk did not make its objects: ' + JSON.stringify(ipcObjects()))
  spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' }).unref()
  spawn(process.execPath, ['-e', 'require("net").createServer().listen(4321, "127.0.0.1")'], { detached: true, stdio: 'ignore' }).unref()
  await new Promise((resolve) => setTimeout(resolve, 300))
  process.send(seen)
})
`

const RUNNER = `
import { spawnSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
import { once } from 'node:events'
const sandbox = await spawnSandbox({ entry: 'worker.cjs', ipc: true, resettable: true, stdio: ['ignore', 'inherit', 'inherit'] })
const seen = []
for (let n = 1; n <= 3; n++) {
  if (n > 1) seen.push({ reset: typeof (await sandbox.reset()).ms })
  sandbox.send({ n })
  const [message] = await once(sandbox, 'message')
  seen.push(message)
}
sandbox.kill('SIGTERM')
const { signal } = await sandbox.result
let refused = ''
try { await spawnSandbox({ command: 'true', resettable: true, root: true }) } catch (error) { refused = error.code }
console.log(JSON.stringify({ seen, signal, refused }))
`

/**
 * A layer nothing changed is kept (the same overlay, so the same device, warm); one that
 * a job wrote in, chmod-ed, touched or created and deleted in is built again, and the
 * next job sees none of it.
 */
const LAYER_WORKER = `const fs = require('fs')
const project = process.cwd()
const attempt = (act) => { try { act(); return 'done' } catch (error) { return error.code } }
process.on('message', (job) => {
  process.chdir(project)
  const here = fs.statSync('.')
  const seen = { device: here.dev, etcDevice: fs.statSync('/etc').dev, mode: (here.mode & 0o777).toString(8), mtime: here.mtimeMs, files: fs.readdirSync('.').sort() }
  // The init's handles: the host's tree under its cover, and the next state being built there.
  seen.reach = {
    host: attempt(() => fs.readdirSync('/dev/.ns-sandbox-host')),
    stage: attempt(() => fs.readdirSync('/dev/.ns-sandbox-host/stage/root')),
    cover: attempt(() => fs.chmodSync('/dev/.ns-sandbox-host', 0o755)),
    initRoot: attempt(() => fs.readdirSync('/proc/1/root'))
  }
  if (job.act === 'write') fs.writeFileSync('written', 'x')
  if (job.act === 'chmod') fs.chmodSync('.', 0o750)
  if (job.act === 'touch') fs.utimesSync('.', new Date(), new Date(1000))
  if (job.act === 'create-and-delete') { fs.writeFileSync('gone', 'x'); fs.unlinkSync('gone') }
  process.send(seen)
})
`

const LAYER_ACTS = ['none', 'none', 'write', 'none', 'chmod', 'none', 'touch', 'none', 'create-and-delete', 'none', 'none']

const LAYER_RUNNER = `
import { spawnSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
import { once } from 'node:events'
const sandbox = await spawnSandbox({ entry: 'worker.cjs', ipc: true, resettable: true, stdio: ['ignore', 'inherit', 'inherit'] })
const jobs = []
const resets = []
for (const [n, act] of ${JSON.stringify(LAYER_ACTS)}.entries()) {
  if (n > 0) { const { kept, staged } = await sandbox.reset(); resets.push({ kept, staged }) }
  sandbox.send({ act })
  const [seen] = await once(sandbox, 'message')
  jobs.push(seen)
}
sandbox.kill('SIGTERM')
await sandbox.result
console.log(JSON.stringify({ jobs, resets }))
`

interface LayerJob { device: number, etcDevice: number, mode: string, mtime: number, files: string[], reach: Record<string, string> }

function runAs (who: Identity): { seen: Array<Record<string, unknown>>, signal: string, refused: string } {
  return runScriptAs(who, 'nsb-reset-', { 'runner.mjs': RUNNER, 'worker.cjs': WORKER }, {
    check: (dir) => {
      assert.deepEqual(fs.readdirSync(dir).sort(), ['runner.mjs', 'worker.cjs'], 'nothing reached the host')
      assert.equal(fs.existsSync('/etc/left-by-a-job'), false)
    }
  })
}

for (const who of identities()) {
  describe(`reset as ${who.name}`, () => {
    it('gives each job a fresh state in the same warm process: files, /tmp, /dev/shm, processes, ports, System V IPC', () => {
      const { seen, signal, refused } = runAs(who)
      const jobs = seen.filter((entry) => 'job' in entry)
      assert.deepEqual(seen.filter((entry) => 'reset' in entry), [{ reset: 'number' }, { reset: 'number' }])
      assert.equal(new Set(jobs.map((job) => job.pid)).size, 1, 'one process ran every job')
      for (const job of jobs) {
        assert.deepEqual({ ...job, pid: 0 }, {
          job: job.job, pid: 0, tmp: false, shm: false, project: [], etc: false, ipc: 0, processes: 2, port: 'free'
        }, `job ${String(job.job)} saw what an earlier one left`)
      }
      assert.equal(signal, 'SIGTERM')
      assert.equal(refused, 'NSB_INVALID_OPTION', 'not with root: true')
    })

    it('keeps the layers nothing changed (same overlay, warm, the state built ahead) and builds again the ones a job changed in any way', () => {
      const { jobs, resets } = runScriptAs<{ jobs: LayerJob[], resets: Array<{ kept: number, staged: boolean }> }>(who, 'nsb-reset-layers-', { 'runner.mjs': LAYER_RUNNER, 'worker.cjs': LAYER_WORKER })
      const first = jobs[0]
      assert.ok(first !== undefined)
      for (const [n, job] of jobs.entries()) {
        assert.deepEqual({ mode: job.mode, files: job.files }, { mode: first.mode, files: first.files },
          `job ${n} (after ${LAYER_ACTS[n - 1]}) found the project as the first job did`)
        // A rebuilt layer's top directory has its new upper directory's times, as the first one had.
        assert.notEqual(job.mtime, 1000, `job ${n} found the time the 'touch' job set`)
        assert.equal(job.etcDevice, first.etcDevice, `job ${n}: /etc, changed by no job, is the same overlay`)
        assert.deepEqual(job.reach, { host: 'EACCES', stage: 'EACCES', cover: 'EROFS', initRoot: 'EACCES' }, `job ${n} reached the init's trees`)
      }
      const keptWhenClean = resets[0]?.kept ?? 0
      for (let n = 1; n < jobs.length; n++) {
        const [previous, job, before] = [jobs[n - 1], jobs[n], LAYER_ACTS[n - 1]]
        if (before === 'none') assert.equal(job?.device, previous?.device, `job ${n}: an unchanged project layer is kept`)
        else assert.notEqual(job?.device, previous?.device, `job ${n}: the project layer changed by '${String(before)}' is built again`)
        // After a job that changed no layer, the state built ahead while it ran is taken.
        assert.deepEqual(resets[n - 1], before === 'none' ? { kept: keptWhenClean, staged: true } : { kept: keptWhenClean - 1, staged: false },
          `reset ${n}: kept every layer but a changed one`)
      }
      assert.equal(jobs.length, LAYER_ACTS.length)
      assert.ok(keptWhenClean > 1, `kept ${keptWhenClean} layers after a job that changed nothing`)
    })
  })
}
