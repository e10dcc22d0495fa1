// Port forwarding cost: a host echo service reached directly (plain Node on the host)
// and through `forward` from a sandbox, for a command and for a Node entry (both relayed
// by this process, which accepts on the sandbox's listening socket). Per mode, one run: 50 round trips of 1 MiB
// each way on one connection, and 100 connects each followed by a 1-byte echo; medians.
// Not part of the tests.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnSandbox } from '@ns-sandbox/core'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUND_TRIPS = 50
const CONNECTS = 100

const CLIENT = `
const net = require('node:net')
const port = Number(process.argv[2])
const median = (values) => { const s = [...values].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 }
const payload = Buffer.alloc(1 << 20, 7)

function connect () {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

function echo (socket, buffer) {
  return new Promise((resolve) => {
    let left = buffer.length
    const onData = (chunk) => { left -= chunk.length; if (left <= 0) { socket.off('data', onData); resolve() } }
    socket.on('data', onData)
    socket.write(buffer)
  })
}

async function main () {
  const socket = await connect()
  await echo(socket, payload) // warm up
  const transfers = []
  for (let i = 0; i < ${ROUND_TRIPS}; i++) {
    const start = performance.now()
    await echo(socket, payload)
    transfers.push(performance.now() - start)
  }
  socket.destroy()
  const connects = []
  const firstBytes = []
  for (let i = 0; i < ${CONNECTS}; i++) {
    const start = performance.now()
    const s = await connect()
    connects.push(performance.now() - start)
    await echo(s, Buffer.of(1))
    firstBytes.push(performance.now() - start)
    s.destroy()
  }
  const roundTripMs = median(transfers)
  console.log(JSON.stringify({ roundTripMs, mibPerSecondEachWay: 1000 / roundTripMs, connectMs: median(connects), connectAndEchoMs: median(firstBytes) }))
}
main().catch((error) => { console.error(error); process.exitCode = 1 })
`

const work = fs.mkdtempSync(path.join(os.homedir(), '.nsb-bench-forward-'))
const client = path.join(work, 'client.cjs')
fs.writeFileSync(client, CLIENT)

// The service is its own process, as a database would be: the forwarder shares no event loop with it.
const ECHO = `const server = require('node:net').createServer({ allowHalfOpen: true }, (socket) => { socket.pipe(socket); socket.on('error', () => {}) })
server.listen(0, '127.0.0.1', () => { console.log(server.address().port) })`
const service = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] })
const [portLine] = await once(service.stdout, 'data')
const port = Number(String(portLine).trim())

async function stdoutOf (child) {
  let out = ''
  child.stdout.on('data', (chunk) => { out += chunk })
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`client exited ${code}`)
  return JSON.parse(out.trim().split('\n').pop())
}

async function sandboxed (options) {
  const sandbox = await spawnSandbox({ ...options, forward: [port], cwd: work, stdio: ['ignore', 'pipe', 'inherit'] })
  const [figures, result] = await Promise.all([stdoutOf(sandbox.child), sandbox.result])
  if (result.code !== 0) throw new Error(`sandbox exited ${result.code}`)
  return figures
}

// Three interleaved rounds, so that a burst of load elsewhere hits every mode alike; per figure, the median round.
const ROUNDS = 3
const rounds = { direct: [], forwardCommand: [], forwardEntry: [] }
for (let i = 0; i < ROUNDS; i++) {
  rounds.direct.push(await stdoutOf(spawn(process.execPath, [client, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] })))
  rounds.forwardCommand.push(await sandboxed({ command: process.execPath, args: [client, String(port)] }))
  rounds.forwardEntry.push(await sandboxed({ entry: client, args: [String(port)] }))
}
const medianOf = (values) => { const s = [...values].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 }
const results = Object.fromEntries(Object.entries(rounds).map(([mode, runs]) =>
  [mode, Object.fromEntries(Object.keys(runs[0]).map((key) => [key, medianOf(runs.map((run) => run[key]))]))]))
service.kill()
fs.rmSync(work, { recursive: true, force: true })

const round = (n, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits
const report = {
  node: process.version,
  // the hops compete for CPU: say how much there was
  cpus: os.cpus().length,
  loadAverage: os.loadavg()[0],
  rounds: ROUNDS,
  roundTrips: ROUND_TRIPS,
  connects: CONNECTS,
  results,
  rawRounds: rounds,
  throughputVsDirect: {
    forwardCommand: results.forwardCommand.mibPerSecondEachWay / results.direct.mibPerSecondEachWay,
    forwardEntry: results.forwardEntry.mibPerSecondEachWay / results.direct.mibPerSecondEachWay
  }
}
console.log(`ns-sandbox forward benchmark (Node ${process.version}, ${report.cpus} CPUs, load ${round(report.loadAverage)}; median round of ${ROUNDS}, each the median of ${ROUND_TRIPS} 1 MiB echo round trips and ${CONNECTS} connects)`)
console.log('  mode                         MiB/s each way   vs direct   connect ms   connect+echo ms')
for (const [name, label] of [['direct', 'direct host loopback'], ['forwardCommand', 'forward, from a command'], ['forwardEntry', 'forward, from a Node entry']]) {
  const r = results[name]
  const ratio = name === 'direct' ? '' : `${round(100 * report.throughputVsDirect[name], 0)}%`
  console.log(`  ${label.padEnd(29)}${String(round(r.mibPerSecondEachWay, 0)).padStart(14)}${ratio.padStart(12)}${String(round(r.connectMs, 3)).padStart(13)}${String(round(r.connectAndEchoMs, 3)).padStart(18)}`)
}
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results', 'forward.json'), JSON.stringify(report, null, 2) + '\n')
