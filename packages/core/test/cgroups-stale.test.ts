/** Real stale-cgroup cleanup, as root: dead runs go (with whatever still runs in them), live runs stay. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { createSandboxCgroup, removeStaleCgroups } from '../src/host/cgroups/index.js'
import { cgroupDir, hierarchyFor, readCgroupHost } from '../src/host/cgroups/detect.js'
import { removeCgroupTree } from '../src/host/cgroups/stale.js'
import { needsMachine } from '../../../test/helpers/machine.js'
import { cgroupTestRuns } from './helpers/cgroup-runs.js'

const { prefix: RUN_PREFIX, children } = cgroupTestRuns('stale')

/** The directories a run's cgroups would go under: this process's cgroup in each usable hierarchy. */
function parentDirs (): string[] {
  const host = readCgroupHost()
  const hierarchies = new Set([hierarchyFor(host, 'memory'), hierarchyFor(host, 'pids'), ...host.hierarchies.filter((h) => h.version === 2)])
  return [...hierarchies].flatMap((h) => h?.ownPath === undefined ? [] : [cgroupDir(h, h.ownPath)]).filter((dir): dir is string => dir !== undefined)
}

const skip = needsMachine(process.getuid?.() !== 0 ? 'needs root' : parentDirs().length === 0 ? 'no cgroup hierarchy' : false)

function makeRun (runId: string): { runDir: string, sandboxDir: string }[] {
  return parentDirs().map((parent) => {
    const runDir = `${parent}/ns-sandbox-0-run-${runId}`
    mkdirSync(`${runDir}/sb-1`, { recursive: true })
    return { runDir, sandboxDir: `${runDir}/sb-1` }
  })
}


describe('stale cgroups', { skip }, () => {
  test('a dead run is removed with the processes it left; live and active runs stay', async () => {
    const dead = `${RUN_PREFIX}-dead`
    const live = `${RUN_PREFIX}-live`
    const deadDirs = makeRun(dead)
    const liveDirs = makeRun(live)
    // An orphan of the dead run, still running in its sandbox cgroups.
    const orphan = spawn('sh', ['-c', 'for f; do echo 0 > "$f" || exit 97; done; exec sleep 30', 'sh', ...deadDirs.map((d) => `${d.sandboxDir}/cgroup.procs`)], { stdio: 'ignore' })
    children.push(orphan)
    const orphanExit = new Promise<NodeJS.Signals | null>((resolve) => orphan.once('exit', (_code, signal) => resolve(signal)))
    const deadline = Date.now() + 10_000
    while (!deadDirs.every((d) => readFileSync(`${d.sandboxDir}/cgroup.procs`, 'utf8').split('\n').includes(String(orphan.pid)))) {
      assert.ok(Date.now() < deadline && orphan.exitCode === null, 'the orphan did not join its cgroups')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    // A run of this process whose id the callback calls dead: still kept, it is in use here.
    const active = `${RUN_PREFIX}-active`
    const cg = createSandboxCgroup(active, 'a', { pids: 5 })

    try {
      const asked = new Set<string>()
      const removed = removeStaleCgroups((runId) => {
        asked.add(runId)
        return !(runId === dead || runId === active) // Everything else (other tests' runs) is alive.
      })
      assert.ok(asked.has(dead) && asked.has(live))
      assert.deepEqual([...removed].sort(), deadDirs.map((d) => d.runDir).sort())
      for (const { runDir } of deadDirs) assert.equal(existsSync(runDir), false, runDir)
      for (const { sandboxDir } of liveDirs) assert.equal(existsSync(sandboxDir), true, sandboxDir)
      assert.equal(existsSync(cg.procsFiles[0]!), true)
      assert.equal(await orphanExit, 'SIGKILL')
    } finally {
      await cg.remove()
      for (const { runDir } of [...deadDirs, ...liveDirs]) removeCgroupTree(runDir)
    }
  })

  test('never throws: a throwing callback keeps the run', () => {
    const runId = `${RUN_PREFIX}-throws`
    const dirs = makeRun(runId)
    try {
      const removed = removeStaleCgroups((id) => {
        if (id === runId) throw new Error('boom')
        return true
      })
      assert.deepEqual(removed, [])
      for (const { runDir } of dirs) assert.equal(existsSync(runDir), true)
    } finally {
      for (const { runDir } of dirs) removeCgroupTree(runDir)
    }
  })

  test('a leftover that is not a run directory is never touched', () => {
    const [parent] = parentDirs()
    const other = `${parent}/ns-sandbox-test-other-${process.pid}`
    mkdirSync(other)
    try {
      // Every run of this test counts as dead; other names are not even considered.
      removeStaleCgroups((runId) => !runId.startsWith(RUN_PREFIX))
      assert.equal(existsSync(other), true)
    } finally {
      removeCgroupTree(other)
    }
  })
})
