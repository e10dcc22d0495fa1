/** The documented errors: bad options, and each missing prerequisite reproduced for real, as `ns-sandbox doctor` and a failed start report it. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { identities, type Identity } from '../../../test/helpers/identity.js'
import { needsMachine } from '../../../test/helpers/machine.js'
import { CLI, CORE_DIR, cli, type CliRun, sandboxSh, tempDirFor } from './helpers/cli.js'

/** bubblewrap loads the seccomp filter of the seccomp test (Debian: bubblewrap; .ci/run installs it). */
const bwrapMissing = needsMachine(spawnSync('sh', ['-c', 'command -v bwrap']).status === 0 ? false : 'bubblewrap (apt-get install bubblewrap)')

for (const who of identities()) {
  describe(`errors as ${who.name}`, () => {
    it('names the option and the accepted forms for bad options (exit 125)', () => {
      for (const [args, pattern] of [
        [['--memory', 'lots'], /NSB_INVALID_OPTION: option `memory`: expected a size of at least 1MiB like 512MiB/],
        [['--network', 'wifi'], /option `network`: expected one of loopback/],
        [['--pids', 'many'], /option `pids`: expected a whole number/],
        [['--cpus', '0'], /option `cpus`/],
        [['--timeout', 'forever'], /option `timeout`: expected a duration/],
        [['--timeout', '99999999999999s'], /option `timeout`: at most 2147483647ms/],
        [['--bind', 'a:b:c:d'], /option `bind`/],
        [['--frobnicate'], /NSB_INVALID_OPTION: Unknown option '--frobnicate'/],
        [['--writable', '/no/such/dir/nsb'], /option `writable`: \/no\/such\/dir\/nsb does not exist/],
        [['--memory', '512'], /option `memory`: expected a size of at least 1MiB .*a bare number is bytes/],
        [['--cwd', '/no/such/dir/nsb'], /NSB_INVALID_OPTION: option `cwd`: \/no\/such\/dir\/nsb does not exist/],
        [['--cwd', '/etc/passwd'], /option `cwd`: \/etc\/passwd is not a directory/],
        // Node's own recursive mkdir spins forever here (procfs answers ENOENT under /proc).
        [['--scratch-dir', '/proc/nsb-scratch'], /NSB_SCRATCH_FAILED: cannot create the scratch directory \/proc\/nsb-scratch: ENOENT/],
        // A scratch directory the user named is never to be deleted, and a file is an option error, not a stack.
        [['--scratch-dir', '/etc/passwd'], /NSB_INVALID_OPTION: option `scratchDir` \(CLI: --scratch-dir\): \/etc\/passwd is not a directory\n.*--scratch-dir/],
        [['--scratch-dir', '/etc/passwd/sub'], /NSB_INVALID_OPTION: option `scratchDir` \(CLI: --scratch-dir\): \/etc\/passwd\/sub is not a directory/],
        [['--scratch-dir', '/tmp'], who.uid === 0 ? /NSB_SCRATCH_FAILED: refusing scratch directory \/tmp: others can write it \(mode 1777\)/ : /NSB_SCRATCH_FAILED: refusing scratch directory \/tmp: it is owned by uid 0, not by you/],
        [['--report-json', '/no/such/dir/report.json'], /option `report-json`: cannot write \/no\/such\/dir\/report\.json: \/no\/such\/dir does not exist/]
      ] as Array<[string[], RegExp]>) {
        const run = cli(who, ['run', ...args, '--', 'true'])
        assert.equal(run.status, 125, `${args.join(' ')}: ${run.stderr}`)
        assert.match(run.stderr, pattern)
        assert.doesNotMatch(run.stderr, /rm -rf|\n\s+at /, `${args.join(' ')}: no advice to delete, no stack trace`)
      }
      assert.match(cli(who, ['run']).stderr, /no command given/)
    })

    it('names a working directory removed under the runner instead of crashing', () => {
      const gone = tempDirFor(who, 'nsb-gone-')
      try {
        const run = underPrefix(who, ['sh', '-c', 'cd "$0" && rmdir "$0" && exec "$@"', gone.dir], ['run', '--', 'true'])
        assert.equal(run.status, 125, run.stderr)
        assert.match(run.stderr, /NSB_INVALID_OPTION: option `cwd`: the current directory no longer exists/)
      } finally {
        gone.remove()
      }
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

    it('says perl is missing, and how to install it, in run and in doctor', () => {
      const bin = tempDirFor(who, 'nsb-bin-')
      try {
        for (const tool of ['node', 'setpriv', 'unshare']) {
          const found = tool === 'node' ? process.execPath : spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim()
          fs.symlinkSync(found, path.join(bin.dir, tool))
        }
        const run = cli(who, ['run', '--', 'true'], { env: { PATH: bin.dir } })
        assert.equal(run.status, 125)
        assert.match(run.stderr, /NSB_PERL_MISSING: cannot start sandboxes: perl \(the init of every sandbox\) not found in PATH/)
        assert.match(run.stderr, /perl-base/)
        const doctor = cli(who, ['doctor'], { env: { PATH: bin.dir } })
        assert.equal(doctor.status, 1)
        assert.match(doctor.stdout, /^MISSING perl: perl \(the init of every sandbox\) not found in PATH/m)
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

  it('doctor says the overlayfs probe could not run when TMPDIR does not exist, instead of crashing', () => {
    const run = cli(root, ['doctor'], { env: { TMPDIR: '/no/such/tmpdir' } })
    assert.equal(run.status, 1, run.stderr)
    assert.match(run.stdout, /^MISSING overlayfs in a user namespace: not checked: no probe directory in \/no\/such\/tmpdir/m)
    assert.match(run.stdout, /fix: Set TMPDIR to a writable directory/)
    assert.equal(run.stderr, '')
  })

  it('doctor refuses an unknown flag with its usage (exit 2)', () => {
    const run = cli(root, ['doctor', '--frob'])
    assert.equal(run.status, 2)
    assert.match(run.stderr, /ns-sandbox doctor: Unknown option '--frob'\nUsage: ns-sandbox doctor \[--json\]/)
    assert.equal(run.stdout, '')
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

  it('starts for a user whose HOME they may not enter (sudo -u keeping root\'s HOME), and names a bind source or working directory they cannot reach', () => {
    const user = identities().find((who) => who.uid !== 0)
    if (user === undefined) throw new Error('no unprivileged identity')
    // /root is 0700: the credential paths to mask below it cannot even be looked up.
    const run = cli(user, ['run', '--', 'sh', '-c', 'echo "$HOME"; id -u'], { env: { HOME: '/root' } })
    assert.equal(run.status, 0, run.stderr)
    assert.equal(run.stdout, `/root\n${user.uid}\n`)
    const bind = cli(user, ['run', '--bind', '/root/data:/data', '--', 'true'])
    assert.equal(bind.status, 125)
    assert.match(bind.stderr, /NSB_INVALID_OPTION: option `bind`: \/root\/data is not accessible to you on the host/)
    const cwd = cli(user, ['run', '--cwd', '/root', '--', 'true'])
    assert.equal(cwd.status, 125)
    assert.match(cwd.stderr, /NSB_INVALID_OPTION: option `cwd`: \/root is not accessible to you/)
  })

  it('refuses an unknown (misspelt) option through the API instead of starting without it', async () => {
    const { spawnSandbox } = await import(path.join(CORE_DIR, 'dist/index.js')) as typeof import('../src/index.js')
    await assert.rejects(spawnSandbox({ command: 'true', stdio: 'ignore', ...{ memroy: '1GiB' } }),
      (error: unknown) => (error as { code?: string }).code === 'NSB_INVALID_OPTION' && /unknown option `memroy`; known options: .*memory/.test((error as Error).message))
  })

  it('puts the report on stderr when --report-json cannot be written after the run (exit 1, nothing lost)', () => {
    // Root may write into /proc by its permissions, but procfs refuses a new file.
    const run = cli(root, ['run', '--report-json', '/proc/nsb-report.json', '--', 'true'])
    assert.equal(run.status, 1, run.stderr)
    assert.match(run.stderr, /cannot write the report to \/proc\/nsb-report\.json: .*here it is instead:/)
    const json = run.stderr.slice(run.stderr.indexOf('{'))
    assert.ok(Array.isArray((JSON.parse(json) as { files?: unknown }).files), json)
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
    const plan = JSON.parse(run.stdout) as { plan: Array<{ op: string }>, launch: { file: string, args: string[] }, init: { hostname: string, cgroupProcs: string[] }, config: { handover: { kind: string } } }
    assert.ok(plan.plan.some((step) => step.op === 'overlay'))
    assert.ok(plan.launch.args.includes('--kill-child'))
    assert.deepEqual([plan.init.hostname, plan.init.cgroupProcs, plan.config.handover.kind], ['ns-sandbox', [], 'exec'])
    assert.ok(fs.existsSync(CLI))
  })
})
