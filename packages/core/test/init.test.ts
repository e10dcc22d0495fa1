/**
 * PID 1 (inside/init.pl) on its own, in namespaces from unshare as in a sandbox, with a
 * small root of its own (a tmpfs with the host's /usr) and a shell as "PID 2" in place
 * of the bootstrap: the handshake, the status PID 2 ends with, and the report.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { encodeInitConfig } from '../src/host/init-config.js'
import type { MountStep } from '../src/plan/mount-plan.js'
import type { InitConfig } from '../src/protocol.js'
import { parseInitDump } from '../src/report/init-dump.js'

const initPath = fileURLToPath(new URL('../src/inside/init.pl', import.meta.url))
const nodeDir = path.dirname(fs.realpathSync(process.execPath))
const lastCapability = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'))

function miniRoot (root: string): MountStep[] {
  return [
    { op: 'tmpfs', target: root, mode: '755', size: 64 * 1024 * 1024 },
    { op: 'mkdir', path: `${root}/usr` },
    { op: 'bind', source: '/usr', target: `${root}/usr`, readonly: true },
    ...['bin', 'lib', 'lib64', 'sbin'].map((dir): MountStep => ({ op: 'symlink', linkTarget: `usr/${dir}`, path: `${root}/${dir}` })),
    // The Node running the tests, which need not be under /usr (Node 24 from npm is not)
    { op: 'mkdir', path: `${root}${nodeDir}` },
    { op: 'bind', source: nodeDir, target: `${root}${nodeDir}`, readonly: true },
    { op: 'mkdir', path: `${root}/dev` },
    { op: 'bind', source: '/dev', target: `${root}/dev`, readonly: false },
    { op: 'mkdir', path: `${root}/proc` },
    { op: 'proc', target: `${root}/proc` }
  ]
}

/**
 * The init with `script` as PID 2: it gets the status fd as $1 and the sync socket as $2,
 * says it booted, waits for the init's answer (printed first), then runs the script.
 */
async function runInit (script: string, overrides: Partial<InitConfig> = {}): Promise<{ status: number | null, stdout: string, statusLines: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-init-'))
  try {
    const root = path.join(dir, 'root')
    fs.mkdirSync(root)
    const config: InitConfig = {
      arch: process.arch, plan: miniRoot(root), rootDir: root, hostname: 'init-test', network: 'loopback',
      keepCapabilities: false, lastCapability, cgroupProcs: [], report: false, resettable: false, layersDir: path.join(dir, 'layers'), restoreEnv: [['LC_ALL', '=C.UTF-8']], ...overrides
    }
    const pid2 = `printf b >&"$2"; read -r phases <&"$2"; echo "$phases"; exec 2>&1; ${script}`
    const child = spawn('unshare', ['--user', '--map-root-user', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child',
      '--uts', '--net', '--', 'perl', '-f', initPath, '3', '/bin/sh', '-c', pid2, 'pid2'], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] })
    const status = child.stdio[3] as import('node:stream').Duplex
    status.end(encodeInitConfig(config))
    let stdout = ''
    let statusText = ''
    child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    status.on('data', (chunk: Buffer) => { statusText += chunk.toString() })
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    return { status: code, stdout, statusLines: statusText.split('\n').filter(Boolean) }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe('the init (PID 1)', () => {
  it('compiles under strict and warnings (it loads neither at run time)', () => {
    const check = spawnSync('perl', ['-Mstrict', '-Mwarnings', '-c', initPath], { encoding: 'utf8' })
    assert.equal(check.status, 0, check.stderr)
    assert.match(check.stderr, /syntax OK/)
    assert.doesNotMatch(check.stderr, /line \d+/)
  })

  it('moves PID 2 into the new root, without capabilities, with its environment given back', async () => {
    const run = await runInit('hostname; ls /; grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs)" /proc/self/status; echo "LC_ALL=$LC_ALL"; echo "pid $$"')
    assert.equal(run.status, 0, run.stdout)
    const lines = run.stdout.trim().split('\n')
    assert.deepEqual(Object.keys(JSON.parse(lines[0] ?? '')).sort(), ['cgroups', 'mounts', 'root'])
    assert.equal(lines[1], 'init-test')
    const caps = lines.findIndex((line) => line.startsWith('Cap'))
    const expected = new Set(['bin', 'dev', 'lib', 'lib64', 'proc', 'sbin', 'usr', nodeDir.split('/')[1] ?? ''])
    assert.deepEqual(lines.slice(2, caps), [...expected].sort())
    assert.deepEqual(lines.slice(caps, caps + 4).map((l) => l.replace(/\s+/g, ' ')),
      ['CapPrm: 0000000000000000', 'CapEff: 0000000000000000', 'CapBnd: 0000000000000000', 'NoNewPrivs: 1'])
    assert.deepEqual(lines.slice(caps + 4), ['LC_ALL=C.UTF-8', 'pid 2'])
    assert.deepEqual(JSON.parse(run.statusLines[0] ?? ''), { type: 'started' }, 'no pid crosses the status pipe')
  })

  it('cannot be ptraced by PID 2: its fds (the status pipe) and memory are out of reach', async () => {
    const run = await runInit('readlink /proc/1/fd/0 >/dev/null 2>&1; echo "fd $?"; cat /proc/1/environ >/dev/null 2>&1; echo "environ $?"; cat /proc/self/environ >/dev/null 2>&1; echo "self $?"')
    assert.equal(run.status, 0, run.stdout)
    assert.deepEqual(run.stdout.trim().split('\n').slice(-3), ['fd 1', 'environ 1', 'self 0'])
  })

  it('ends with PID 2\'s exact status on the status fd, and exits with it as a shell would (128+N for signal N)', async () => {
    const cases = [['exit 3', 3, 3, null], ['exit 143', 143, 143, null], ['kill -TERM $$', 143, null, 15], ['true', 0, 0, null]] as const
    for (const [script, expected, code, signal] of cases) {
      for (const report of [false, true]) {
        const run = await runInit(script, { report })
        assert.equal(run.status, expected, script)
        assert.deepEqual(JSON.parse(run.statusLines.at(-1) ?? ''), { type: 'init-exit', status: expected, code, signal }, script)
        assert.equal(run.statusLines.some((line) => line.startsWith('@nsb ')), report)
      }
    }
  })

  it('with a report, lists what is left running and listening', async () => {
    const script = [
      '(sleep 30 &)',
      `${JSON.stringify(path.join(nodeDir, path.basename(fs.realpathSync(process.execPath))))} -e 'require("net").createServer().listen(4567, "127.0.0.1"); setTimeout(() => {}, 30000)' &`,
      'sh -c "sleep 29; : \'two\nlines\'" &',
      'i=0; while ! grep -q ":11D7 00000000:0000 0A" /proc/net/tcp && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done',
      'exit 3'
    ].join('\n')
    const run = await runInit(script, { report: true })
    assert.equal(run.status, 3, run.stdout)
    const dump = parseInitDump(run.statusLines)
    assert.equal(dump.complete, true)
    const commands = dump.processes.map((p) => p.command)
    assert.ok(commands.includes('sleep 30'), commands.join(' | '))
    assert.ok(commands.some((c) => c.includes(' -e require("net")')), commands.join(' | '))
    assert.ok(commands.includes('sh -c sleep 29; : \'two\nlines\''), commands.join(' | '))
    assert.ok(!dump.processes.some((p) => p.pid === 1))
    assert.deepEqual(dump.sockets, [{ protocol: 'tcp', address: '127.0.0.1', port: 4567 }])
  })

  it('reports a failed mount step as an error naming it, and PID 2 never goes on', async () => {
    const run = await runInit('echo ran', { plan: [...miniRoot('/nonexistent-root'), { op: 'proc', target: '/nonexistent/proc' }], rootDir: '/nonexistent-root' })
    assert.equal(run.status, 125)
    assert.doesNotMatch(run.stdout, /ran/)
    const error = JSON.parse(run.statusLines.find((line) => line.includes('"error"')) ?? '{}') as { code?: string, message?: string }
    assert.equal(error.code, 'NSB_MOUNT_FAILED')
    assert.match(error.message ?? '', /^mount plan step failed: tmpfs \/nonexistent-root: mount\(tmpfs on \/nonexistent-root\) failed: ENOENT/)
  })
})
