/** Nothing outlives a sandbox, even when its runner is killed with SIGKILL; dead runs' leftovers go at the next start. */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { identities } from '../../../test/helpers/identity.js'
import { CORE_DIR, cli, processesWith, sandboxCgroups, tempDirFor, waitFor } from './helpers/cli.js'

const RUNNER = `
import fs from 'node:fs'
import { spawnSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
const seconds = process.argv[2]
const sandboxes = await Promise.all([1, 2].map(() => spawnSandbox({ command: 'sleep', args: [seconds], memory: '64MiB', stdio: 'ignore' })))
await Promise.all(sandboxes.map((s) => s.ready))
const namespaces = sandboxes.map((s) => fs.readlinkSync('/proc/' + s.pid + '/ns/mnt'))
console.log(JSON.stringify({ pids: sandboxes.map((s) => s.pid), namespaces }))
setInterval(() => {}, 1000)
`

/** A runner whose sandbox fails in the preparation that follows the launcher's spawn (a bind source that is missing). */
const FAILING_RUNNER = `
import { spawnSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
try {
  await spawnSandbox({ command: 'true', bind: [process.argv[2] + ':/x'], stdio: 'ignore' })
  console.log(JSON.stringify({ started: true }))
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }))
}
setInterval(() => {}, 1000)
`

/**
 * A runner that lists the mount namespaces it holds fds to: while its sandbox runs, and
 * after the result (polling for 1 s: the fd is closed in the thread pool).
 */
const HOLDING_RUNNER = `
import fs from 'node:fs'
import { spawnSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
const held = () => fs.readdirSync('/proc/self/fd').map((fd) => {
  try { return fs.readlinkSync('/proc/self/fd/' + fd) } catch { return '' }
}).filter((link) => link.startsWith('mnt:['))
const sandbox = await spawnSandbox({ command: 'sleep', args: ['0.3'], stdio: 'ignore' })
await sandbox.ready
const during = held()
const sandboxNamespace = fs.readlinkSync('/proc/' + sandbox.pid + '/ns/mnt')
const result = await sandbox.result
let after = held()
for (let i = 0; i < 100 && after.length > 0; i++) {
  await new Promise((resolve) => setTimeout(resolve, 10))
  after = held()
}
console.log(JSON.stringify({ during, sandboxNamespace, own: fs.readlinkSync('/proc/self/ns/mnt'), code: result.code, after }))
`

/** Launcher processes (setpriv, unshare, the init, the bootstrap) whose working directory is `dir`. */
function launchersIn (dir: string): number[] {
  const pids: number[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (fs.readlinkSync(`/proc/${name}/cwd`) !== dir) continue
      if (/setpriv|unshare|ns-sandbox-init|bootstrap\.cjs/.test(fs.readFileSync(`/proc/${name}/cmdline`, 'utf8'))) pids.push(Number(name))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

/**
 * What still refers to a mount namespace (`mnt:[inode]`): a process in it, an open fd,
 * or an nsfs bind mount on the host. With none, the kernel has freed the namespace and
 * unmounted every mount of the sandbox's tree.
 */
function mountNamespaceHolders (namespace: string): string[] {
  const holders: string[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (fs.readlinkSync(`/proc/${name}/ns/mnt`) === namespace) holders.push(`process ${name}`)
      for (const fd of fs.readdirSync(`/proc/${name}/fd`)) {
        if (fs.readlinkSync(`/proc/${name}/fd/${fd}`) === namespace) holders.push(`fd ${fd} of process ${name}`)
      }
    } catch {
      // gone meanwhile
    }
  }
  const mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
  return [...holders, ...mountinfo.filter((line) => line.includes(namespace)).map((line) => `mount ${line}`)]
}

for (const who of identities()) {
  describe(`lifecycle as ${who.name}`, () => {
    it('leaves no process, cgroup, mount or scratch behind when the runner is SIGKILLed', async () => {
      const work = tempDirFor(who, 'nsb-runner-')
      let env: { vars: NodeJS.ProcessEnv, cleanup: () => void } | undefined
      try {
        fs.writeFileSync(path.join(work.dir, 'runner.mjs'), RUNNER)
        const seconds = String(60_000 + (process.pid % 10_000) + who.uid)
        env = who.uid === 0 ? { vars: {}, cleanup: () => {} } : delegatedParent(who)
        const { file, args } = who.wrap(process.execPath, [path.join(work.dir, 'runner.mjs'), seconds])
        const runner = spawn(file, args, { cwd: work.dir, env: { ...who.env, ...env.vars }, stdio: ['ignore', 'pipe', 'inherit'] })
        let out = ''
        runner.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString() })
        await waitFor(() => out.includes('pids'), 20_000)
        const { namespaces } = JSON.parse(out) as { namespaces: string[] }
        assert.equal(new Set(namespaces).size, 2, out)
        for (const namespace of namespaces) assert.notDeepEqual(mountNamespaceHolders(namespace), [], 'the sandbox\'s mount namespace is seen while it runs')
        assert.equal(processesWith(`^sleep ${seconds}$`).length, 2)
        const runnerPid = runner.pid ?? 0
        assert.ok(sandboxCgroups(`ns-sandbox-${who.uid}-run-${runnerPid}-`).length > 0, 'the sandboxes have cgroups while they run')
        const killedAt = Date.now()
        runner.kill('SIGKILL')
        const scratchLeft = (): boolean => fs.existsSync(scratchBase(who)) &&
          fs.readdirSync(scratchBase(who)).some((name) => name.startsWith(`run-${runnerPid}-`))
        await waitFor(() => processesWith(`^sleep ${seconds}$`).length === 0 &&
          sandboxCgroups(`ns-sandbox-${who.uid}-run-${runnerPid}-`).length === 0 && !scratchLeft(), 2_000)
        await waitFor(() => namespaces.every((namespace) => mountNamespaceHolders(namespace).length === 0), 2_000)
        assert.ok(Date.now() - killedAt <= 2_000)
      } finally {
        env?.cleanup()
        work.remove()
      }
    })

    it('removes the scratch and cgroups a dead run left, on the next start', () => {
      // A run id whose pid is above the kernel's PID_MAX_LIMIT (2^22): certainly dead.
      const deadRun = `4194305-${process.pid}`
      const base = scratchBase(who)
      const env = who.uid === 0 ? { vars: {}, cleanup: () => {} } : delegatedParent(who)
      const made: string[] = [] // what the test itself created, removed last if still there
      try {
        const parent = who.uid === 0 ? '/sys/fs/cgroup/memory' : path.join('/sys/fs/cgroup/memory', env.vars.NS_SANDBOX_CGROUP_PARENT ?? '')
        const staleCgroup = path.join(parent, `ns-sandbox-${who.uid}-run-${deadRun}`)
        const staleScratch = path.join(base, `run-${deadRun}`)
        for (const dir of [base, staleScratch]) if (!fs.existsSync(dir)) made.push(dir)
        fs.mkdirSync(path.join(staleScratch, '1/root/etc'), { recursive: true, mode: 0o700 })
        fs.mkdirSync(path.join(staleCgroup, 'sb-1'), { recursive: true })
        made.push(staleCgroup, path.join(staleCgroup, 'sb-1'))
        fs.writeFileSync(path.join(staleScratch, '1/root/etc/leftover'), 'x')
        for (const entry of [base, staleScratch, `${staleScratch}/1`, `${staleScratch}/1/root`, `${staleScratch}/1/root/etc`, `${staleScratch}/1/root/etc/leftover`, staleCgroup]) {
          fs.chownSync(entry, who.uid, who.gid)
        }
        const run = cli(who, ['run', '--memory', '64MiB', '--', 'true'], { env: env.vars })
        assert.equal(run.status, 0, run.stderr)
        assert.equal(fs.existsSync(staleScratch), false, `${staleScratch} is left`)
        assert.equal(fs.existsSync(staleCgroup), false, `${staleCgroup} is left`)
      } finally {
        for (const dir of made.reverse()) {
          // cgroup directories go with rmdir only; scratch with everything in it.
          if (!dir.startsWith('/sys/fs/cgroup/')) fs.rmSync(dir, { recursive: true, force: true })
          else if (fs.existsSync(dir)) fs.rmdirSync(dir)
        }
        env.cleanup()
      }
    })

    it('kills the launcher it already started when the preparation after the spawn fails', async () => {
      // The launcher is spawned before the mount plan is made; its Node waits for the
      // configuration. A plan that fails must not leave that chain waiting in a live runner.
      const work = tempDirFor(who, 'nsb-prep-fail-')
      const missing = path.join(work.dir, 'missing')
      try {
        fs.writeFileSync(path.join(work.dir, 'runner.mjs'), FAILING_RUNNER)
        const { file, args } = who.wrap(process.execPath, [path.join(work.dir, 'runner.mjs'), missing])
        const runner = spawn(file, args, { cwd: work.dir, env: who.env, stdio: ['ignore', 'pipe', 'inherit'] })
        let out = ''
        runner.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString() })
        try {
          await waitFor(() => out.includes('\n'), 20_000)
          const reported = JSON.parse(out) as { code?: string, message?: string }
          assert.equal(reported.code, 'NSB_INVALID_OPTION', out)
          assert.match(reported.message ?? '', new RegExp(`option \`bind\`: ${missing} does not exist`))
          await waitFor(() => launchersIn(work.dir).length === 0, 2_000)
        } finally {
          runner.kill('SIGKILL')
        }
      } finally {
        work.remove()
      }
    })

    it('holds the sandbox\'s mount namespace while it runs and lets go of it after the result', () => {
      // The hold lets the launcher exit without unmounting the sandbox's tree first
      // (host/mount-namespace-hold.ts); a hold that outlived the result would keep ~30 mounts alive.
      const work = tempDirFor(who, 'nsb-ns-hold-')
      try {
        fs.writeFileSync(path.join(work.dir, 'runner.mjs'), HOLDING_RUNNER)
        const { file, args } = who.wrap(process.execPath, [path.join(work.dir, 'runner.mjs')])
        const run = spawnSync(file, args, { cwd: work.dir, env: who.env, encoding: 'utf8', timeout: 30_000 })
        assert.equal(run.status, 0, run.stderr)
        const seen = JSON.parse(run.stdout) as { during: string[], sandboxNamespace: string, own: string, code: number, after: string[] }
        assert.equal(seen.code, 0)
        assert.notEqual(seen.sandboxNamespace, seen.own)
        assert.deepEqual(seen.during, [seen.sandboxNamespace])
        assert.deepEqual(seen.after, [])
      } finally {
        work.remove()
      }
    })
  })
}

/** The default scratch base the CLI and API use for this identity (see options/schema.ts). */
function scratchBase (who: { uid: number }): string {
  const base = `/dev/shm/ns-sandbox-${who.uid}`
  return fs.existsSync('/dev/shm') ? base : `/tmp/ns-sandbox-${who.uid}`
}

function delegatedParent (who: { uid: number, gid: number }): { vars: NodeJS.ProcessEnv, cleanup: () => void } {
  const name = `ns-sandbox-test-deleg-life-${process.pid}`
  const dir = path.join('/sys/fs/cgroup/memory', name)
  fs.mkdirSync(dir, { recursive: true })
  for (const entry of ['', ...fs.readdirSync(dir)]) fs.chownSync(path.join(dir, entry), who.uid, who.gid)
  const cleanup = (): void => {
    // The reaper may still be removing the run's cgroup below it: retry for up to 5 s.
    for (let attempt = 0; attempt < 100 && fs.existsSync(dir); attempt++) {
      try { fs.rmdirSync(dir) } catch { spawnSync('sleep', ['0.05']) }
    }
    assert.equal(fs.existsSync(dir), false, `${dir} could not be removed`)
  }
  return { vars: { NS_SANDBOX_CGROUP_PARENT: `/${name}` }, cleanup }
}
