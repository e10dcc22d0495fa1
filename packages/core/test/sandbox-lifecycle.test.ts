/** Nothing outlives a sandbox, even when its runner is killed with SIGKILL; errors are the documented ones. */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { identities, type Identity } from '../../../test/helpers/identity.js'
import { needsMachine } from '../../../test/helpers/machine.js'
import { CLI, CORE_DIR, cli, type CliRun, processesWith, sandboxCgroups, sandboxSh, tempDirFor, waitFor } from './helpers/cli.js'

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

/** bubblewrap loads the seccomp filter of the seccomp test (Debian: bubblewrap; .ci/run installs it). */
const bwrapMissing = needsMachine(spawnSync('sh', ['-c', 'command -v bwrap']).status === 0 ? false : 'bubblewrap (apt-get install bubblewrap)')

for (const who of identities()) {
  describe(`errors as ${who.name}`, () => {
    it('names the option and the accepted forms for bad options (exit 125)', () => {
      for (const [args, pattern] of [
        [['--memory', 'lots'], /NSB_INVALID_OPTION: option `memory`: expected a size like 512MiB/],
        [['--network', 'wifi'], /option `network`: expected one of loopback/],
        [['--pids', 'many'], /option `pids`: expected a whole number/],
        [['--cpus', '0'], /option `cpus`/],
        [['--timeout', 'forever'], /option `timeout`: expected a duration/],
        [['--bind', 'a:b:c:d'], /option `bind`/],
        [['--frobnicate'], /NSB_INVALID_OPTION: Unknown option '--frobnicate'/],
        [['--writable', '/no/such/dir/nsb'], /option `writable`: \/no\/such\/dir\/nsb does not exist/]
      ] as Array<[string[], RegExp]>) {
        const run = cli(who, ['run', ...args, '--', 'true'])
        assert.equal(run.status, 125, `${args.join(' ')}: ${run.stderr}`)
        assert.match(run.stderr, pattern)
      }
      assert.match(cli(who, ['run']).stderr, /no command given/)
    })

    it('says util-linux is missing, and how to install it, when setpriv/unshare are not found', () => {
      const bin = tempDirFor(who, 'nsb-bin-')
      try {
        fs.symlinkSync(process.execPath, path.join(bin.dir, 'node'))
        const run = cli(who, ['run', '--', 'true'], { env: { PATH: bin.dir } })
        assert.equal(run.status, 125)
        assert.match(run.stderr, /NSB_UTIL_LINUX_MISSING: cannot start sandboxes: setpriv, unshare not found in PATH/)
        assert.match(run.stderr, /apt-get install util-linux/)
      } finally {
        bin.remove()
      }
    })

    it('prints the doctor\'s diagnosis when user namespaces are denied (user.max_user_namespaces=0)', () => {
      // The limit is per user namespace: set to 0 in an outer one, it denies the sandbox's
      // own without touching the host's setting.
      const deny = ['unshare', '--user', '--map-root-user', 'sh', '-c', 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', 'sh']
      const doctor = underPrefix(who, deny, ['doctor'])
      assert.equal(doctor.status, 1, doctor.stdout)
      assert.match(doctor.stdout, /^MISSING user namespaces: .*No space left on device/m)
      assert.match(doctor.stdout, /fix: sudo sysctl -w user\.max_user_namespaces=/)
      const run = underPrefix(who, deny, ['run', '--', 'true'])
      assert.equal(run.status, 125, run.stderr)
      assert.match(run.stderr, /NSB_USERNS_DENIED: user namespaces: .*No space left on device/)
      assert.match(run.stderr, /sudo sysctl -w user\.max_user_namespaces=/)
    })

    it('prints the doctor\'s diagnosis when a seccomp filter refuses unshare (as Docker\'s default profile does)', { skip: bwrapMissing }, () => {
      // bubblewrap loads the filter (--seccomp FD) and runs the CLI under it, on the host's tree.
      const work = tempDirFor(who, 'nsb-seccomp-')
      try {
        const filter = path.join(work.dir, 'deny-unshare.bpf')
        fs.writeFileSync(filter, denyUnshareFilter())
        const seccomp = ['sh', '-c', 'exec bwrap --seccomp 9 --dev-bind / / -- "$@" 9<"$0"', filter]
        const doctor = underPrefix(who, seccomp, ['doctor'])
        assert.equal(doctor.status, 1, doctor.stdout + doctor.stderr)
        assert.match(doctor.stdout, /^MISSING user namespaces: unshare --user failed: .*Operation not permitted/m)
        assert.match(doctor.stdout, /error code: NSB_SECCOMP_DENIED/)
        const run = underPrefix(who, seccomp, ['run', '--', 'true'])
        assert.equal(run.status, 125, run.stderr)
        assert.match(run.stderr, /NSB_SECCOMP_DENIED: user namespaces:/)
        assert.match(run.stderr, /--security-opt seccomp=unconfined/)
      } finally {
        work.remove()
      }
    })

    it('prints the doctor\'s diagnosis when the host /proc has masked parts (as inside Docker)', () => {
      // A bind mount over a /proc file, as Docker masks /proc/kcore and others, becomes a
      // locked mount in the sandbox's user namespace, and the kernel refuses a fresh procfs.
      const mask = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind /dev/null /proc/uptime && exec "$@"', 'sh']
      const doctor = underPrefix(who, mask, ['doctor'], { prefixAsRoot: true })
      assert.equal(doctor.status, 1, doctor.stdout)
      assert.match(doctor.stdout, /^MISSING procfs:/m)
      assert.match(doctor.stdout, /error code: NSB_PROC_UNMOUNTABLE/)
      const run = underPrefix(who, mask, ['run', '--', 'true'], { prefixAsRoot: true })
      assert.equal(run.status, 125, run.stderr)
      assert.match(run.stderr, /NSB_PROC_UNMOUNTABLE: procfs:/)
      assert.match(run.stderr, /--security-opt systempaths=unconfined/)
      assert.match(run.stderr, /failed step: mount plan step failed: proc .*EPERM/)
    })
  })
}

/**
 * A classic BPF seccomp program (x86_64) that refuses unshare(2) with EPERM and allows
 * everything else: what Docker's default profile does to namespace creation.
 */
function denyUnshareFilter (): Buffer {
  const AUDIT_ARCH_X86_64 = 0xc000003e
  const NR_UNSHARE = 272
  const LOAD_WORD = 0x20 // BPF_LD | BPF_W | BPF_ABS, on struct seccomp_data
  const JUMP_IF_EQUAL = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
  const RETURN = 0x06 // BPF_RET | BPF_K
  const program: Array<[number, number, number, number]> = [
    [LOAD_WORD, 0, 0, 4], // arch
    [JUMP_IF_EQUAL, 0, 3, AUDIT_ARCH_X86_64], // another arch: allow
    [LOAD_WORD, 0, 0, 0], // syscall number
    [JUMP_IF_EQUAL, 0, 1, NR_UNSHARE],
    [RETURN, 0, 0, 0x00050000 | 1], // SECCOMP_RET_ERRNO | EPERM
    [RETURN, 0, 0, 0x7fff0000] // SECCOMP_RET_ALLOW
  ]
  const bytes = Buffer.alloc(program.length * 8)
  program.forEach(([code, jumpTrue, jumpFalse, k], i) => {
    bytes.writeUInt16LE(code, i * 8)
    bytes.writeUInt8(jumpTrue, i * 8 + 2)
    bytes.writeUInt8(jumpFalse, i * 8 + 3)
    bytes.writeUInt32LE(k, i * 8 + 4)
  })
  return bytes
}

/**
 * The CLI as `who` behind a prefix command that changes the machine for it alone: run by
 * `who` itself, or (`prefixAsRoot`) by root, which then switches to `who`.
 */
function underPrefix (who: Identity, prefix: string[], args: string[], options: { prefixAsRoot?: boolean } = {}): CliRun {
  const inner = options.prefixAsRoot === true ? who.wrap(process.execPath, [CLI, ...args]) : { file: process.execPath, args: [CLI, ...args] }
  const command = [...prefix, inner.file, ...inner.args]
  const outer = options.prefixAsRoot === true ? { file: command[0] ?? '', args: command.slice(1) } : who.wrap(command[0] ?? '', command.slice(1))
  const run = spawnSync(outer.file, outer.args, { cwd: os.tmpdir(), env: who.env, encoding: 'utf8', timeout: 60_000, input: '' })
  return { status: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr }
}

describe('errors', () => {
  const [root] = identities()
  if (root === undefined) throw new Error('no root identity')

  it('rejects with the reason when the runner has no fds left for the launcher (EMFILE)', () => {
    // Node sets up no stdio for a spawn that failed for want of fds; the sandbox says so
    // instead of failing on the missing status pipe.
    const script = `
      import fs from 'node:fs'
      import { spawnSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
      await (await spawnSandbox({ command: 'true', stdio: 'ignore' })).result
      const held = []
      try { for (;;) held.push(fs.openSync('/dev/null', 'r')) } catch {}
      for (let i = 0; i < 2; i++) fs.closeSync(held.pop())
      try {
        await spawnSandbox({ command: 'true', stdio: 'ignore' })
        console.log('started')
      } catch (error) {
        console.log(error.code + ' ' + error.message)
      }
    `
    const run = spawnSync('sh', ['-c', 'ulimit -n 256 && exec "$0" --input-type=module -e "$1"', process.execPath, script], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(run.status, 0, run.stderr)
    assert.match(run.stdout, /^NSB_SETUP_FAILED cannot start the launcher: spawn \S*setpriv EMFILE$/m)
  })

  it('doctor reports every prerequisite as ok on this machine', () => {
    const run = cli(root, ['doctor'])
    assert.equal(run.status, 0, run.stdout)
    for (const name of ['util-linux', 'user namespaces', 'network namespaces', 'overlayfs in a user namespace', 'procfs', 'cgroups']) {
      assert.match(run.stdout, new RegExp(`^ok\\s+${name}:`, 'm'))
    }
  })

  it('doctor tells an unprivileged user without a delegated cgroup that limits are unavailable', () => {
    const user = identities().find((who) => who.uid !== 0)
    if (user === undefined) throw new Error('no unprivileged identity')
    const run = cli(user, ['doctor'])
    assert.equal(run.status, 1, run.stdout)
    assert.match(run.stdout, /^MISSING cgroups: .*cannot be used/m)
    assert.match(run.stdout, /error code: NSB_CGROUP_NOT_DELEGATED/)
    assert.match(run.stdout, /NS_SANDBOX_CGROUP_PARENT/)
    assert.match(run.stdout, /^ok\s+user namespaces:/m)
  })

  it('starts for a user whose HOME they may not enter (sudo -u keeping root\'s HOME), and names a bind source they cannot reach', () => {
    const user = identities().find((who) => who.uid !== 0)
    if (user === undefined) throw new Error('no unprivileged identity')
    // /root is 0700: the credential paths to mask below it cannot even be looked up.
    const run = cli(user, ['run', '--', 'sh', '-c', 'echo "$HOME"; id -u'], { env: { HOME: '/root' } })
    assert.equal(run.status, 0, run.stderr)
    assert.equal(run.stdout, `/root\n${user.uid}\n`)
    const bind = cli(user, ['run', '--bind', '/root/data:/data', '--', 'true'])
    assert.equal(bind.status, 125)
    assert.match(bind.stderr, /NSB_INVALID_OPTION: option `bind`: \/root\/data is not accessible to you on the host/)
  })

  it('refuses a scratch directory that others could tamper with', () => {
    const shared = tempDirFor(root, 'nsb-shared-scratch-')
    try {
      fs.chmodSync(shared.dir, 0o777)
      const run = sandboxSh(root, ['--scratch-dir', shared.dir], 'true')
      assert.equal(run.status, 125)
      assert.match(run.stderr, /NSB_SCRATCH_FAILED: refusing scratch directory/)
    } finally {
      shared.remove()
    }
  })

  it('prints the mount plan with --dry-run and starts nothing', () => {
    const run = cli(root, ['run', '--dry-run', '--', 'true'])
    assert.equal(run.status, 0, run.stderr)
    const plan = JSON.parse(run.stdout) as { plan: Array<{ op: string }>, launch: { file: string, args: string[] } }
    assert.ok(plan.plan.some((step) => step.op === 'overlay'))
    assert.ok(plan.launch.args.includes('--kill-child'))
    assert.ok(fs.existsSync(CLI))
  })
})
