/** Port forwarding end to end: host services reached from real sandboxes, for root and an unprivileged user. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { identities, type Identity } from '../../../test/helpers/identity.js'
import { CORE_DIR, cli, cliAsync, tempDirFor } from './helpers/cli.js'

/** Sends 1 MiB of random bytes, half-closes, reads the echo; prints hashes (or the error and how fast it came). */
const CLIENT = `
const net = require('node:net')
const crypto = require('node:crypto')
const port = Number(process.argv[2])
const data = crypto.randomBytes(1 << 20)
const hash = (buffer) => crypto.createHash('sha256').update(buffer).digest('hex')
const started = Date.now()
const chunks = []
const socket = net.connect(port, '127.0.0.1', () => { socket.end(data) })
socket.on('data', (chunk) => { chunks.push(chunk) })
socket.on('end', () => {
  const got = Buffer.concat(chunks)
  console.log(JSON.stringify({ sent: hash(data), got: hash(got), bytes: got.length }))
})
socket.on('error', (error) => { console.log(JSON.stringify({ error: error.code, ms: Date.now() - started })); process.exitCode = 0 })
`

interface ClientOutput { sent?: string, got?: string, bytes?: number, error?: string, ms?: number }

function lastJson (text: string): ClientOutput {
  return JSON.parse(text.trim().split('\n').pop() ?? '{}') as ClientOutput
}

async function listen (handler: (socket: net.Socket) => void): Promise<{ server: net.Server, port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, handler).listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: (server.address() as net.AddressInfo).port }
}

async function freePort (): Promise<number> {
  const { server, port } = await listen(() => {})
  server.close()
  await once(server, 'close')
  return port
}

function collect (child: ReturnType<typeof spawn>): Promise<{ code: number | null, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }))
}

/** A Node entry in a sandbox through the API, run as `who`. */
function apiRun (who: Identity, dir: string, port: number, extra: string): ReturnType<typeof spawn> {
  const runner = path.join(dir, 'runner.mjs')
  fs.writeFileSync(runner, `
import { runSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
const result = await runSandbox({ entry: ${JSON.stringify(path.join(dir, 'client.cjs'))}, args: ['${port}'], forward: [${port}], stdio: 'inherit' ${extra} })
process.exitCode = result.code ?? 1
`)
  fs.chownSync(runner, who.uid, who.gid)
  const { file, args } = who.wrap(process.execPath, [runner])
  return spawn(file, args, { cwd: dir, env: who.env, stdio: ['ignore', 'pipe', 'pipe'] })
}

for (const who of identities()) {
  describe(`port forwarding as ${who.name}`, () => {
    const received: string[] = []
    let echo: { server: net.Server, port: number }
    let work: { dir: string, remove: () => void }

    before(async () => {
      echo = await listen((socket) => {
        const chunks: Buffer[] = []
        socket.on('data', (chunk: Buffer) => chunks.push(chunk))
        socket.on('end', () => { received.push(crypto.createHash('sha256').update(Buffer.concat(chunks)).digest('hex')) })
        socket.pipe(socket)
      })
      work = tempDirFor(who, 'nsb-forward-')
      fs.writeFileSync(path.join(work.dir, 'client.cjs'), CLIENT)
      fs.chownSync(path.join(work.dir, 'client.cjs'), who.uid, who.gid)
    })
    after(() => {
      echo.server.close()
      work.remove()
    })

    it('reaches a host service from two sandboxes at once (a command and a Node entry), 1 MiB both ways', async () => {
      const command = collect(cliAsync(who, ['run', '--forward', String(echo.port), '--', process.execPath, 'client.cjs', String(echo.port)], { cwd: work.dir }))
      const entry = collect(apiRun(who, work.dir, echo.port, ''))
      for (const run of await Promise.all([command, entry])) {
        assert.equal(run.code, 0, run.stderr)
        const output = lastJson(run.stdout)
        assert.equal(output.bytes, 1 << 20, run.stdout)
        assert.equal(output.got, output.sent)
        assert.ok(received.includes(output.sent ?? ''), 'the host service got the same bytes')
      }
    })

    it('keeps host ports that are not forwarded out of reach', async () => {
      const other = await listen((socket) => socket.end('secret'))
      try {
        const run = cli(who, ['run', '--forward', String(echo.port), '--', process.execPath, 'client.cjs', String(other.port)], { cwd: work.dir })
        assert.equal(run.status, 0, run.stderr)
        assert.equal(lastJson(run.stdout).error, 'ECONNREFUSED')
      } finally {
        other.server.close()
      }
    })

    it('fails a connection at once when the host service is down', async () => {
      const port = await freePort()
      const run = cli(who, ['run', '--forward', String(port), '--', process.execPath, 'client.cjs', String(port)], { cwd: work.dir })
      assert.equal(run.status, 0, run.stderr)
      const output = lastJson(run.stdout)
      assert.match(output.error ?? '', /^(ECONNRESET|ECONNREFUSED|EPIPE)$/, run.stdout)
      assert.ok((output.ms ?? Infinity) < 2000, `the error took ${String(output.ms)} ms`)
    })

    it('is no side effect: the report lists neither a process nor the forwarded port', async () => {
      const reportFile = path.join(work.dir, 'report.json')
      // async: the echo service runs in this process
      const run = await collect(cliAsync(who, ['run', '--forward', String(echo.port), '--report-json', reportFile, '--', process.execPath, 'client.cjs', String(echo.port)], { cwd: work.dir }))
      assert.equal(run.code, 0, run.stderr)
      assert.equal(lastJson(run.stdout).bytes, 1 << 20)
      const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as { files: unknown[], processes: unknown[], ports: unknown[] }
      fs.rmSync(reportFile)
      assert.deepEqual({ files: report.files, processes: report.processes, ports: report.ports }, { files: [], processes: [], ports: [] })
    })

    it('ends with the sandbox: the host holds no socket of it after, and the entry is left no IPC channel', async () => {
      const runner = path.join(work.dir, 'sockets-runner.mjs')
      fs.writeFileSync(path.join(work.dir, 'probe.cjs'), `console.log(JSON.stringify({ send: typeof process.send, channel: process.env.NODE_CHANNEL_FD ?? null }))
require('./client.cjs')`)
      fs.writeFileSync(runner, `
import fs from 'node:fs'
import { runSandbox } from ${JSON.stringify(path.join(CORE_DIR, 'dist/index.js'))}
const sockets = () => fs.readdirSync('/proc/self/fd').map((fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd) } catch { return '' } }).filter((link) => link.startsWith('socket:'))
// A first sandbox starts what lives as long as the run (the reaper's pipe); the second is measured.
await runSandbox({ command: 'true' })
const before = sockets()
const result = await runSandbox({ entry: 'probe.cjs', args: ['${echo.port}'], forward: [${echo.port}], stdio: 'inherit' })
await new Promise((resolve) => setImmediate(resolve)) // closed handles release their fds on the next turn
console.log(JSON.stringify({ code: result.code, leftover: sockets().filter((socket) => !before.includes(socket)) }))
`)
      for (const file of ['probe.cjs', 'sockets-runner.mjs']) fs.chownSync(path.join(work.dir, file), who.uid, who.gid)
      const { file, args } = who.wrap(process.execPath, [runner])
      const run = await collect(spawn(file, args, { cwd: work.dir, env: who.env, stdio: ['ignore', 'pipe', 'pipe'] }))
      assert.equal(run.code, 0, run.stderr)
      const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
      assert.deepEqual(lines[0], { send: 'undefined', channel: null }, 'the channel that carried the sockets is gone before the entry runs')
      assert.equal(lines[1]?.bytes, 1 << 20, run.stdout)
      assert.deepEqual(lines[2], { code: 0, leftover: [] })
    })
  })
}
