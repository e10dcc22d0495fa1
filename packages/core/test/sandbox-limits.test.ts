/** cgroup limits, applied and reported: OOM kills, the pids limit, the timeout, CPU quota. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { identities, type Identity } from '../../../test/helpers/identity.js'
import { cliAsync, sandboxCgroups, sandboxSh, waitFor } from './helpers/cli.js'

const CONTROLLERS = ['memory', 'pids', 'cpu']

/** For the unprivileged user: a cgroup per controller that root delegates to it (chown). */
function delegateCgroups (who: Identity): NodeJS.ProcessEnv {
  if (who.uid === 0) return {}
  const name = `ns-sandbox-test-deleg-${process.pid}`
  for (const controller of CONTROLLERS) {
    const dir = path.join('/sys/fs/cgroup', controller, name)
    if (!fs.existsSync(path.dirname(dir))) throw new Error(`cgroup v1 ${controller} is not mounted at /sys/fs/cgroup/${controller}`)
    fs.mkdirSync(dir, { recursive: true })
    spawnSync('chown', ['-R', `${who.uid}:${who.gid}`, dir])
  }
  after(() => {
    for (const controller of CONTROLLERS) {
      const dir = path.join('/sys/fs/cgroup', controller, name)
      for (let attempt = 0; attempt < 50 && fs.existsSync(dir); attempt++) {
        try { fs.rmdirSync(dir) } catch { spawnSync('sleep', ['0.1']) }
      }
    }
  })
  return { NS_SANDBOX_CGROUP_PARENT: `/${name}` }
}

function lastJson (stderr: string): Record<string, unknown> {
  const line = stderr.trim().split('\n').reverse().find((l) => l.startsWith('{'))
  assert.ok(line !== undefined, `no JSON result on stderr: ${stderr}`)
  return JSON.parse(line) as Record<string, unknown>
}

for (const who of identities()) {
  describe(`limits as ${who.name}`, () => {
    const env = delegateCgroups(who)

    it('OOM-kills a memory hog and says which limit it hit', () => {
      const run = sandboxSh(who, ['--memory', '64MiB', '--json'],
        `${process.execPath} -e "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))"`, { env })
      assert.equal(run.status, 128 + 9, run.stderr)
      assert.match(run.stderr, /memory limit 64 MiB exceeded \(OOM kill\)/)
      const result = lastJson(run.stderr)
      assert.equal(result.reason, 'oom')
      assert.ok(((result.usage as { memoryPeakBytes?: number }).memoryPeakBytes ?? 0) > 32 * 1024 * 1024)
    })

    it('stops a fork bomb at the pids limit and reports it', () => {
      const run = sandboxSh(who, ['--pids', '16', '--json'], 'for i in $(seq 60); do (sleep 3 &) 2>/dev/null; done; echo forked', { env })
      const result = lastJson(run.stderr)
      assert.equal(result.reason, 'pids', run.stderr)
      assert.match(run.stderr, /pids limit 16 reached/)
      assert.ok(((result.usage as { pidsLimitHits: number }).pidsLimitHits) > 0)
    })

    it('kills the sandbox at the timeout and reports it', () => {
      const run = sandboxSh(who, ['--timeout', '1s', '--json'], 'sleep 30', { env })
      assert.equal(run.status, 128 + 9)
      assert.match(run.stderr, /timeout of 1s exceeded/)
      assert.equal(lastJson(run.stderr).reason, 'timeout')
    })

    it('applies memory and CPU limits in the sandbox\'s own cgroups, then removes them', async () => {
      const seconds = 50_000 + (process.pid % 10_000) + who.uid
      const child = cliAsync(who, ['run', '--memory', '100MiB', '--cpus', '0.5', '--', 'sleep', String(seconds)], { env })
      try {
        // The cgroups appear (mkdir) a moment before their limits are written: poll for both.
        const readLimits = (): string[] => sandboxCgroups(`ns-sandbox-${who.uid}-run-`).flatMap((dir) => {
          const sandboxes = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.startsWith('sb-')) : []
          return sandboxes.map((sb) => path.join(dir, sb))
        }).flatMap((dir) => ['cpu.cfs_quota_us', 'memory.limit_in_bytes'].map((f) => path.join(dir, f))
          .filter((f) => fs.existsSync(f)).map((f) => `${path.basename(f)}=${fs.readFileSync(f, 'utf8').trim()}`))
        const expected = ['cpu.cfs_quota_us=50000', `memory.limit_in_bytes=${100 * 1024 * 1024}`]
        let values: string[] = []
        await waitFor(() => {
          values = readLimits()
          return expected.every((value) => values.includes(value))
        }).catch(() => {})
        for (const value of expected) assert.ok(values.includes(value), values.join(' '))
      } finally {
        child.kill('SIGTERM')
        await new Promise((resolve) => child.on('exit', resolve))
      }
      await waitFor(() => sandboxCgroups(`ns-sandbox-${who.uid}-run-`).length === 0)
    })
  })
}
