/** Identity, PID/UTS namespaces, init behaviour, signals and exit status. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import { describe, it } from 'node:test'
import { identities } from '../../../test/helpers/identity.js'
import { cli, cliAsync, processesWith, sandboxSh, waitFor } from './helpers/cli.js'

for (const who of identities()) {
  describe(`processes as ${who.name}`, () => {
    it('has its own hostname, leaving the host\'s alone', () => {
      const hostname = os.hostname()
      assert.notEqual(hostname, 'box-1')
      const run = sandboxSh(who, ['--hostname', 'box-1'], 'hostname; cat /proc/sys/kernel/hostname')
      assert.equal(run.status, 0, run.stderr)
      assert.equal(run.stdout, 'box-1\nbox-1\n')
      assert.equal(sandboxSh(who, [], 'hostname').stdout, 'ns-sandbox\n')
      assert.equal(os.hostname(), hostname)
    })

    it('runs in its own user, mount, PID, UTS, IPC, network and cgroup namespaces', () => {
      const kinds = ['user', 'mnt', 'pid', 'uts', 'ipc', 'net', 'cgroup']
      const host = kinds.map((kind) => fs.readlinkSync(`/proc/self/ns/${kind}`))
      const run = sandboxSh(who, [], `for n in ${kinds.join(' ')}; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup`)
      assert.equal(run.status, 0, run.stderr)
      const lines = run.stdout.trim().split('\n')
      kinds.forEach((kind, i) => {
        assert.match(lines[i] ?? '', new RegExp(`^${kind}:\\[\\d+\\]$`))
        assert.notEqual(lines[i], host[i], `${kind} namespace is the host's`)
      })
      // The cgroup namespace's root is the sandbox's own cgroup: every hierarchy shows "/".
      const cgroups = lines.slice(kinds.length)
      assert.ok(cgroups.length > 0)
      for (const line of cgroups) assert.match(line, /^\d+:[^:]*:\/$/, line)
      const shared = sandboxSh(who, ['--network', 'host'], 'readlink /proc/self/ns/net')
      assert.equal(shared.stdout.trim(), host[kinds.indexOf('net')])
    })

    it('gives the command the caller\'s LC_ALL, set or unset (the launch chain itself runs with LC_ALL=C)', () => {
      const show = 'printf "%s|%s" "${LC_ALL-unset}" "${LANG-unset}"'
      const set = sandboxSh(who, [], show, { env: { LC_ALL: 'C.UTF-8', LANG: 'de_DE.UTF-8' } })
      assert.equal(set.status, 0, set.stderr)
      assert.equal(set.stdout, 'C.UTF-8|de_DE.UTF-8')
      const unset = sandboxSh(who, [], show, { env: { LANG: 'de_DE.UTF-8' } })
      assert.equal(unset.status, 0, unset.stderr)
      assert.equal(unset.stdout, 'unset|de_DE.UTF-8')
    })

    it('runs the command as PID 2 under an init and shows only the sandbox\'s processes', () => {
      const run = sandboxSh(who, [], 'echo $$; cat /proc/1/cmdline | tr "\\0" " "; echo; ls /proc | grep -E "^[0-9]+$" | wc -l')
      assert.equal(run.status, 0, run.stderr)
      const [pid, init, count] = run.stdout.split('\n')
      assert.equal(pid, '2')
      assert.match(init ?? '', /^ns-sandbox-init/)
      // init, this shell, ls, grep, wc: a handful, never the host's hundreds
      assert.ok(Number(count) <= 6, `saw ${count ?? ''} processes`)
    })

    it('keeps the caller\'s uid and gid and drops every capability, for children too', () => {
      const run = sandboxSh(who, [], 'id -u; id -g; grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status; sh -c \'grep -E "^Cap(Eff|Prm)" /proc/self/status\'; grep NoNewPrivs /proc/self/status')
      assert.equal(run.status, 0, run.stderr)
      const lines = run.stdout.trim().split('\n')
      assert.equal(lines[0], String(who.uid))
      assert.equal(lines[1], String(who.gid))
      const capabilities = lines.filter((line) => line.startsWith('Cap'))
      assert.equal(capabilities.length, 7)
      for (const line of capabilities) assert.match(line, /:\s+0000000000000000$/)
      assert.match(run.stdout, /NoNewPrivs:\s+1/)
    })

    it('with --root is uid 0 inside with every capability of its namespace, and may set the hostname itself', () => {
      const hostname = os.hostname()
      const run = sandboxSh(who, ['--root'], 'id -u; hostname renamed && hostname; grep -E "^CapEff" /proc/self/status; cat /proc/sys/kernel/cap_last_cap')
      assert.equal(run.status, 0, run.stderr)
      const [uid, renamed, capEff, lastCap] = run.stdout.trim().split('\n')
      assert.deepEqual([uid, renamed], ['0', 'renamed'])
      // Every capability the kernel has, in the sandbox's own user namespace.
      const all = (1n << (BigInt(lastCap ?? '0') + 1n)) - 1n
      assert.equal(BigInt('0x' + (capEff ?? '').replace(/^CapEff:\s*/, '')), all, capEff)
      assert.equal(os.hostname(), hostname)
    })

    it('starts the command with default signal dispositions (Node ignores SIGPIPE, the command must not)', () => {
      const run = sandboxSh(who, [], 'yes | head -1; grep SigIgn /proc/self/status')
      assert.equal(run.status, 0, run.stderr)
      assert.equal(run.stdout, 'y\nSigIgn:\t0000000000000000\n')
      assert.doesNotMatch(run.stderr, /Broken pipe/)
    })

    it('reaps orphans: no zombie is left while the command runs on', () => {
      // The subshell exits at once, so its `sleep 0.3` is an orphan, reparented to PID 1.
      const run = sandboxSh(who, [], '(sleep 0.3 &); sleep 0.1; ps -eo ppid=,args= | grep "[s]leep 0.3"; sleep 1; echo ---; ps -eo stat=,comm=')
      assert.equal(run.status, 0, run.stderr)
      const [orphan, after] = run.stdout.split('---\n')
      assert.match(orphan ?? '', /^\s*1 sleep 0\.3$/m, 'the orphan\'s parent is the init')
      const processes = (after ?? '').trim().split('\n').map((line) => line.trim().split(/\s+/))
      assert.ok(processes.some(([, comm]) => comm === 'ps'), run.stdout)
      assert.deepEqual(processes.filter(([stat]) => stat?.startsWith('Z') === true), [], run.stdout)
      assert.ok(!processes.some(([, comm]) => comm === 'sleep'), 'the orphan has ended and is gone')
    })

    it('passes exit codes through and reports signals as 128+N', () => {
      assert.equal(sandboxSh(who, [], 'exit 7').status, 7)
      assert.equal(sandboxSh(who, [], 'kill -TERM $$').status, 128 + 15)
      assert.equal(sandboxSh(who, [], 'kill -KILL $$').status, 128 + 9)
      assert.doesNotMatch(sandboxSh(who, [], 'kill -KILL $$').stderr, /Killed/, 'the init prints nothing of its own')
      const json = sandboxSh(who, ['--json'], 'kill -KILL $$')
      assert.deepEqual(pick(JSON.parse(json.stderr.trim().split('\n').pop() ?? '{}')), { code: null, signal: 'SIGKILL' })
      assert.equal(cli(who, ['run', '--', 'no-such-command-nsb']).status, 127)
    })

    for (const [signal, number] of [['SIGTERM', 15], ['SIGINT', 2]] as const) {
      it(`ends the command when the sandbox gets ${signal}`, async () => {
        // A duration unique to this test names the sandboxed process (the CLI's own argv differs).
        const seconds = 40_000 + (process.pid % 10_000) + who.uid + number
        const marker = `^sleep ${seconds}$`
        const child = cliAsync(who, ['run', '--', 'sleep', String(seconds)])
        await waitFor(() => processesWith(marker).length > 0)
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code) }))
        child.kill(signal)
        assert.equal(await exited, 128 + number)
        await waitFor(() => processesWith(marker).length === 0)
      })
    }
  })
}

function pick (result: { code: unknown, signal: unknown }): { code: unknown, signal: unknown } {
  return { code: result.code, signal: result.signal }
}
