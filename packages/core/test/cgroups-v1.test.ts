/**
 * Real cgroup v1 (memory, pids, cpu hierarchies), as root. Skipped where this host has no v1
 * hierarchy for those controllers (pure v2 hosts) or when not root.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { describe, test } from 'node:test'
import { createSandboxCgroup } from '../src/host/cgroups/index.js'
import type { SandboxCgroup } from '../src/host/cgroups/index.js'
import { hierarchyFor, readCgroupHost } from '../src/host/cgroups/detect.js'
import { parsePidList } from '../src/host/cgroups/formats.js'
import { isSandboxError } from '../src/errors.js'
import { needsMachine } from '../../../test/helpers/machine.js'
import { cgroupTestRuns } from './helpers/cgroup-runs.js'

const { children, newRunId } = cgroupTestRuns('v1t')

function skipReason (): string | false {
  if (process.getuid?.() !== 0) return 'needs root'
  const host = readCgroupHost()
  for (const name of ['memory', 'pids', 'cpu'] as const) {
    if (hierarchyFor(host, name)?.version !== 1) return `no cgroup v1 hierarchy for ${name} on this host`
  }
  return false
}
const skip = needsMachine(skipReason())

/** `sh` that joins every cgroup (writes 0 into each procs file) then runs `body`. */
function spawnJoined (cg: SandboxCgroup, body: string): ChildProcess {
  const child = spawn('sh', ['-c', `for f; do echo 0 > "$f" || exit 97; done; ${body}`, 'sh', ...cg.procsFiles], { stdio: 'ignore' })
  children.push(child)
  return child
}

function procsOf (file: string): number[] {
  return parsePidList(readFileSync(file, 'utf8'))
}

async function waitFor (what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function exited (child: ChildProcess, ms = 20_000): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode })
      return
    }
    const timer = setTimeout(() => reject(new Error(`process ${child.pid} still running after ${ms} ms`)), ms)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal })
    })
  })
}

function read (dir: string, file: string): string {
  return readFileSync(`${dir}/${file}`, 'utf8').trim()
}


describe('cgroup v1', { skip }, () => {
  test('limits are written, a process joins, kill() ends it, remove() leaves nothing', async (t) => {
    const runId = newRunId()
    const cg = createSandboxCgroup(runId, 'a', { memoryBytes: 64 * 1024 * 1024, pids: 10, cpus: 0.5 })
    t.after(() => cg.remove())
    assert.equal(cg.procsFiles.length, 3)
    const [memoryDir, pidsDir, cpuDir] = ['memory', 'pids', 'cpu'].map((name) => {
      const file = cg.procsFiles.find((f) => f.startsWith(`${hierarchyFor(readCgroupHost(), name as 'memory')?.mountPoint}/`))
      assert.ok(file !== undefined, `no procs file for ${name} in ${cg.procsFiles.join(' ')}`)
      // The limits on sb-a, the processes in its leaf (where the cgroup namespace is rooted).
      assert.match(file, new RegExp(`/ns-sandbox-0-run-${runId}/sb-a/leaf/cgroup\\.procs$`))
      return dirname(dirname(file))
    }) as [string, string, string]
    assert.equal(read(memoryDir, 'memory.limit_in_bytes'), String(64 * 1024 * 1024))
    if (existsSync(`${memoryDir}/memory.memsw.limit_in_bytes`)) assert.equal(read(memoryDir, 'memory.memsw.limit_in_bytes'), String(64 * 1024 * 1024))
    assert.equal(read(pidsDir, 'pids.max'), '10')
    assert.equal(read(cpuDir, 'cpu.cfs_period_us'), '100000')
    assert.equal(read(cpuDir, 'cpu.cfs_quota_us'), '50000')

    const child = spawnJoined(cg, 'exec sleep 30')
    await waitFor('the process to join all three cgroups', () => cg.procsFiles.every((f) => procsOf(f).includes(child.pid!)))
    const own = readFileSync(`/proc/${child.pid}/cgroup`, 'utf8')
    assert.match(own, new RegExp(`:memory:.*/ns-sandbox-0-run-${runId}/sb-a/leaf$`, 'm'))
    assert.match(own, new RegExp(`:pids:/ns-sandbox-0-run-${runId}/sb-a/leaf$`, 'm'))

    cg.kill()
    assert.equal((await exited(child)).signal, 'SIGKILL')
    assert.deepEqual(cg.procsFiles.flatMap(procsOf), [])
    const usage = cg.readUsage()
    assert.equal(usage.oomKills, 0)
    assert.equal(usage.pidsLimitHits, 0)

    await cg.remove()
    await cg.remove() // idempotent
    for (const dir of [memoryDir, pidsDir, cpuDir]) {
      assert.equal(existsSync(dir), false, `${dir} still exists`)
      assert.equal(existsSync(dirname(dir)), false, `run parent ${dirname(dir)} still exists`)
    }
    assert.deepEqual(cg.readUsage(), usage, 'counters survive remove()')
  })

  test('only the controllers the limits need are used; no limits -> no cgroup', async (t) => {
    const cg = createSandboxCgroup(newRunId(), 'p', { pids: 5 })
    t.after(() => cg.remove())
    assert.equal(cg.procsFiles.length, 1)
    assert.match(cg.procsFiles[0]!, /^\/sys\/fs\/cgroup\/pids\//)
    assert.equal(cg.readUsage().memoryPeakBytes, undefined)
    const none = createSandboxCgroup(newRunId(), 'n', {})
    assert.deepEqual(none.procsFiles, [])
    assert.deepEqual(none.readUsage(), { oomKills: 0, pidsLimitHits: 0 })
    none.kill()
    await none.remove()
  })

  test('sandboxes of one run share the run parent, which goes with the last one', async (t) => {
    const runId = newRunId()
    const one = createSandboxCgroup(runId, 'one', { pids: 5 })
    t.after(() => one.remove())
    const two = createSandboxCgroup(runId, 'two', { pids: 5 })
    t.after(() => two.remove())
    const runDir = dirname(dirname(dirname(one.procsFiles[0]!)))
    assert.equal(dirname(dirname(dirname(two.procsFiles[0]!))), runDir)
    assert.throws(() => createSandboxCgroup(runId, 'two', { pids: 5 }), (error: unknown) => isSandboxError(error) && /used twice/.test(error.message))
    await one.remove()
    assert.equal(existsSync(runDir), true)
    await two.remove()
    assert.equal(existsSync(runDir), false)
    // A later sandbox of the same run recreates it.
    const three = createSandboxCgroup(runId, 'three', { pids: 5 })
    t.after(() => three.remove())
    assert.equal(existsSync(three.procsFiles[0]!), true)
    await three.remove()
  })

  test('a memory hog in 32 MiB is OOM-killed and counted', async (t) => {
    const cg = createSandboxCgroup(newRunId(), 'oom', { memoryBytes: 32 * 1024 * 1024 })
    t.after(() => cg.remove())
    // Doubling a shell string until it no longer fits.
    const child = spawnJoined(cg, 'x=0123456789abcdef; while :; do x="$x$x"; done')
    const { signal } = await exited(child)
    assert.equal(signal, 'SIGKILL')
    const usage = cg.readUsage()
    assert.ok(usage.oomKills >= 1, `oomKills ${usage.oomKills}`)
    assert.ok((usage.memoryPeakBytes ?? 0) > 0, `memoryPeakBytes ${usage.memoryPeakBytes}`)
    assert.ok((usage.memoryPeakBytes ?? 0) <= 32 * 1024 * 1024)
    await cg.remove()
    assert.ok(cg.readUsage().oomKills >= 1)
  })

  test('a fork bomb bounded by pids=10 hits the limit; kill() ends the orphans too', async (t) => {
    const cg = createSandboxCgroup(newRunId(), 'fork', { pids: 10 })
    t.after(() => cg.remove())
    const child = spawnJoined(cg, 'for i in $(seq 50); do sleep 30 & done; wait')
    await waitFor('pids.events max >= 1', () => cg.readUsage().pidsLimitHits >= 1)
    const procs = cg.procsFiles[0]!
    assert.ok(procsOf(procs).length <= 10)
    cg.kill()
    assert.deepEqual(procsOf(procs), [])
    await exited(child)
    assert.ok(cg.readUsage().pidsLimitHits >= 1)
    await cg.remove()
    assert.equal(existsSync(dirname(dirname(procs))), false)
  })

  test('contained: a cgroup of its own in every hierarchy, limits only where asked; cgroups made below go too', async (t) => {
    const cg = createSandboxCgroup(newRunId(), 'contained', { pids: 10 }, true)
    t.after(() => cg.remove())
    const mounted = readCgroupHost().hierarchies.map((h) => h.mountPoint).sort()
    const hierarchyOf = (file: string): string | undefined => mounted.find((point) => file.startsWith(`${point}/`))
    assert.deepEqual(cg.procsFiles.map(hierarchyOf).sort(), mounted)
    const pidsFile = cg.procsFiles.find((file) => hierarchyOf(file) === hierarchyFor(readCgroupHost(), 'pids')?.mountPoint)!
    assert.match(pidsFile, /\/sb-contained\/leaf\/cgroup\.procs$/)
    assert.ok(cg.procsFiles.filter((file) => file !== pidsFile).every((file) => /\/sb-contained\/cgroup\.procs$/.test(file)))
    // What a sandbox may do in a hierarchy it mounts: make cgroups below its own.
    const made = cg.procsFiles.map((file) => `${dirname(file)}/made-inside/deeper`)
    for (const dir of made) mkdirSync(dir, { recursive: true })
    const child = spawnJoined(cg, 'sleep 30')
    await waitFor('the process to join', () => cg.procsFiles.every((f) => procsOf(f).includes(child.pid!)))
    await cg.remove()
    await exited(child)
    assert.deepEqual(cg.procsFiles.map(dirname).filter(existsSync), [])
  })
})
