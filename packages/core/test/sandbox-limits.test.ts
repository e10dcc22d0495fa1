/** cgroup limits, applied and reported: OOM kills, the pids limit, the timeout, CPU quota. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { identities, type Identity } from '../../../test/helpers/identity.js'
import { cliAsync, sandboxCgroups, sandboxSh, tempDirFor, waitFor } from './helpers/cli.js'

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

/** Starts 60 sleeps (a failed spawn is no error here), then counts the sandbox's processes. */
const FORKER = `const { spawn } = require('child_process')
for (let i = 0; i < 60; i++) { try { spawn('sleep', ['5'], { stdio: 'ignore' }).on('error', () => {}) } catch {} }
setTimeout(() => { console.log('running ' + require('fs').readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name)).length); process.exit(0) }, 500)
`

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

    it('OOM-kills the command, never the init, also when tmpfs pages hold the memory: exit 137 and only the limit\'s message', () => {
      // dd is small and its tmpfs pages belong to no process: the init (perl, ~5 MB) was
      // the biggest task in the cgroup, and its SIGKILL made unshare print
      // "sigprocmask unblock failed" and exit 1.
      const hog = `${process.execPath} -e "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))"`
      for (const command of [hog, 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=100 status=none']) {
        const run = sandboxSh(who, ['--memory', '64MiB'], `exec ${command}`, { env })
        assert.equal(run.status, 128 + 9, `${command}: ${run.stderr}`)
        assert.equal(run.stderr, 'ns-sandbox: memory limit 64 MiB exceeded (OOM kill)\n', command)
        assert.doesNotMatch(run.stderr, /sigprocmask/)
      }
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

    // The attack of issue #16: mount the cgroup hierarchies inside (a user namespace of the
    // sandbox's own, or --root's capabilities) and lift the sandbox's own limits. Not in
    // root's default mode: its namespace maps host uid 0, which only CAP_SETFCAP may map again.
    for (const mode of who.uid === 0 ? [['--root']] : [[], ['--root']]) {
      const mountOwn = (controllers: string[], then: string): string => `${mode.length > 0 ? '' : 'unshare -UrmC '}sh -c '
        for c in ${controllers.join(' ')}; do mkdir -p /tmp/cg/$c && mount -t cgroup -o $c none /tmp/cg/$c || exit 99; done
        ${then}'`

      it(`keeps the limits where the sandbox cannot lift them (${['run', ...mode].join(' ')})`, () => {
        const work = tempDirFor(who, 'nsb-lift-')
        try {
          fs.writeFileSync(path.join(work.dir, 'fork.cjs'), FORKER)
          fs.writeFileSync(path.join(work.dir, 'hog.cjs'), 'const a = []; for (let i = 0; i < 200; i++) a.push(Buffer.alloc(1 << 20, 1)); console.log("allocated")')
          const pids = sandboxSh(who, [...mode, '--pids', '24', '--json'], mountOwn(['pids'], `
            echo max > /tmp/cg/pids/pids.max || exit 98
            ${process.execPath} fork.cjs`), { env, cwd: work.dir })
          assert.match(pids.stdout, /running \d+/, pids.stderr)
          assert.ok(Number(/running (\d+)/.exec(pids.stdout)?.[1]) <= 24, pids.stdout)
          assert.equal(lastJson(pids.stderr).reason, 'pids', pids.stderr)

          const memory = sandboxSh(who, [...mode, '--memory', '64MiB', '--json'], mountOwn(['memory'], `
            echo -1 > /tmp/cg/memory/memory.memsw.limit_in_bytes 2>/dev/null; echo -1 > /tmp/cg/memory/memory.limit_in_bytes || exit 98
            ${process.execPath} hog.cjs`), { env, cwd: work.dir })
          assert.doesNotMatch(memory.stdout, /allocated/, memory.stderr)
          assert.equal(lastJson(memory.stderr).reason, 'oom', memory.stderr)
        } finally {
          work.remove()
        }
      })

      it(`shows no host cgroup in a hierarchy it mounts, and what it creates there goes with it (${['run', ...mode].join(' ')})`, () => {
        const probe = `nsb-escape-probe-${process.pid}-${who.uid}-${mode.length}`
        const run = sandboxSh(who, mode, mountOwn(['freezer', 'memory'], `
          mkdir /tmp/cg/freezer/${probe} 2>/dev/null && echo created
          for c in freezer memory; do echo "$c shows $(find /tmp/cg/$c -mindepth 1 -maxdepth 1 -type d ! -name ${probe} | wc -l)"; done`), { env })
        assert.equal(run.status, 0, run.stderr)
        const left = spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '8', '-name', probe], { encoding: 'utf8' }).stdout.trim()
        assert.equal(left, '', 'nothing the sandbox created in a cgroup hierarchy is left on the host')
        // Where the caller may write (root: everywhere; the test user: its delegated memory
        // cgroup), the mount shows the sandbox's own empty cgroup as its root; where it may
        // not (the test user's freezer), it sees the host's cgroups and can change none.
        assert.match(run.stdout, /memory shows 0/)
        if (who.uid === 0) {
          assert.match(run.stdout, /freezer shows 0/)
          assert.match(run.stdout, /created/, 'root\'s sandbox with --root may create cgroups: in its own')
        } else {
          assert.doesNotMatch(run.stdout, /created/)
        }
      })
    }
  })
}
