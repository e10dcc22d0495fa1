/** PID 1's report: only when asked for, on the status fd given as $1, and the command's status kept. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { buildLaunchCommand, INIT_SCRIPT, REPORT_INIT_SCRIPT } from '../src/host/launch-command.js'
import type { LaunchTools } from '../src/host/tools.js'
import { parseInitDump } from '../src/report/init-dump.js'

const tools: LaunchTools = { setpriv: '/usr/bin/setpriv', unshare: '/usr/bin/unshare', sh: '/bin/sh', unshareVersion: 'x', hasMapUser: true, hasMapCurrentUser: true, hasKeepCaps: true, hasKillChild: true }
const spec = { uid: 1001, gid: 1002, root: false, network: 'loopback' as const, nodePath: '/usr/bin/node', execArgv: [], bootstrapPath: '/b.cjs', statusFd: 4, report: false, commandLocale: undefined }

describe('the report init', () => {
  it('is used only when a report is asked for; both inits get the status fd as $1', () => {
    const plain = buildLaunchCommand(tools, spec).args
    assert.deepEqual(plain.slice(-8), ['-c', INIT_SCRIPT, 'ns-sandbox-init', '4', '-', '/usr/bin/node', '/b.cjs', '4'])
    const reporting = buildLaunchCommand(tools, { ...spec, report: true }).args
    assert.deepEqual(reporting.slice(-8), ['-c', REPORT_INIT_SCRIPT, 'ns-sandbox-init', '4', '-', '/usr/bin/node', '/b.cjs', '4'])
    assert.deepEqual(reporting.slice(0, -8), plain.slice(0, -8))
  })

  it('ends with the command\'s status on the status fd, 128+N for signal N, and exits with it', () => {
    for (const [script, expected] of [['exit 3', 3], ['kill -TERM $$', 143], ['true', 0]] as const) {
      for (const init of [INIT_SCRIPT, REPORT_INIT_SCRIPT]) {
        const run = spawnSync('/bin/sh', ['-c', init, 'ns-sandbox-init', '3', '-', '/bin/sh', '-c', script],
          { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 10_000 })
        assert.equal(run.status, expected, script)
        const last = String(run.output[3] ?? '').trim().split('\n').pop() ?? ''
        assert.deepEqual(JSON.parse(last), { type: 'init-exit', status: expected }, script)
      }
    }
  })

  it('lists what is left running and listening, then exits with the command\'s status', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-init-')), 'status')
    try {
      const fd = fs.openSync(out, 'w')
      const command = [
        'ip link set lo up 2>/dev/null || true',
        '(sleep 30 &)',
        `${JSON.stringify(process.execPath)} -e 'require("net").createServer().listen(4567, "127.0.0.1"); setTimeout(() => {}, 30000)' &`,
        'sh -c "sleep 29; : \'two\nlines\'" &',
        'while ! grep -q ":11D7 00000000:0000 0A" /proc/net/tcp; do sleep 0.05; done',
        'exit 3'
      ].join('\n')
      // A PID and network namespace of its own, as in a sandbox; nothing of the host's is listed.
      const run = spawnSync('unshare', ['--user', '--map-root-user', '--pid', '--fork', '--mount', '--mount-proc', '--net', '--kill-child',
        '/bin/sh', '-c', REPORT_INIT_SCRIPT, 'ns-sandbox-init', '3', '-', '/bin/sh', '-c', command], { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8', timeout: 20_000 })
      fs.closeSync(fd)
      assert.equal(run.status, 3, run.stderr)
      const dump = parseInitDump(fs.readFileSync(out, 'utf8').split('\n'))
      assert.equal(dump.complete, true)
      const commands = dump.processes.map((p) => p.command)
      assert.ok(commands.includes('sleep 30'), commands.join(' | '))
      assert.ok(commands.some((c) => c.startsWith(`${process.execPath} -e require("net")`)), commands.join(' | '))
      assert.ok(commands.includes('sh -c sleep 29; : \'two\nlines\''), commands.join(' | '))
      assert.ok(!dump.processes.some((p) => p.pid === 1))
      assert.deepEqual(dump.sockets, [{ protocol: 'tcp', address: '127.0.0.1', port: 4567 }])
    } finally {
      fs.rmSync(path.dirname(out), { recursive: true, force: true })
    }
  })
})
