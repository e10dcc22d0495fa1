// Per-start cost of a sandbox: a sandboxed Node start (`node -e 0` equivalent: an empty
// entry module run in the sandbox's Node) against a plain spawn of the same, and
// bubblewrap's `bwrap --unshare-all --dev-bind / / node -e 0` when it is installed.
// Interleaved runs, medians, one report. Not part of the tests.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnSandbox } from '@ns-sandbox/core'

const here = path.dirname(fileURLToPath(import.meta.url))
const runs = Number(process.env.BENCH_RUNS ?? 30)
const empty = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-bench-')), 'empty.mjs')
fs.writeFileSync(empty, '')

function timeSpawn (file, args) {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(file, args, { stdio: 'ignore' })
    child.on('error', reject)
    child.on('exit', (code) => code === 0 ? resolve(performance.now() - start) : reject(new Error(`${file} exited ${code}`)))
  })
}

async function timeSandbox () {
  const start = performance.now()
  const sandbox = await spawnSandbox({ entry: empty, stdio: 'ignore' })
  const result = await sandbox.result
  if (result.code !== 0) throw new Error(`sandbox exited ${result.code}`)
  return { ms: performance.now() - start, setupMs: result.setupMs, phases: result.setupPhases }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const bwrap = spawnSync('sh', ['-c', 'command -v bwrap'], { encoding: 'utf8' }).stdout.trim()
const samples = { plain: [], sandbox: [], bwrap: [], setup: [], phases: {} }
await timeSandbox() // warm the page cache and the host-side caches once
for (let i = 0; i < runs; i++) {
  samples.plain.push(await timeSpawn(process.execPath, [empty]))
  const sandboxed = await timeSandbox()
  samples.sandbox.push(sandboxed.ms)
  samples.setup.push(sandboxed.setupMs)
  for (const [name, ms] of Object.entries(sandboxed.phases ?? {})) (samples.phases[name] ??= []).push(ms)
  if (bwrap !== '') samples.bwrap.push(await timeSpawn(bwrap, ['--unshare-all', '--dev-bind', '/', '/', process.execPath, empty]))
}

const report = {
  node: process.version,
  runs,
  medianMs: {
    plainNode: median(samples.plain),
    sandboxedNode: median(samples.sandbox),
    ...(bwrap === '' ? {} : { bwrapNode: median(samples.bwrap) })
  },
  sandboxAddsMs: median(samples.sandbox) - median(samples.plain),
  ratio: median(samples.sandbox) / median(samples.plain),
  insideSetupMedianMs: median(samples.setup),
  insidePhasesMedianMs: Object.fromEntries(Object.entries(samples.phases).map(([k, v]) => [k, median(v)]))
}
const round = (n) => Math.round(n * 10) / 10
console.log(`ns-sandbox core benchmark (${runs} interleaved runs, Node ${process.version})`)
console.log(`  plain node start      ${round(report.medianMs.plainNode)} ms`)
console.log(`  sandboxed node start  ${round(report.medianMs.sandboxedNode)} ms   (+${round(report.sandboxAddsMs)} ms, x${report.ratio.toFixed(3)})`)
if (bwrap !== '') console.log(`  bwrap node start      ${round(report.medianMs.bwrapNode)} ms   (+${round(report.medianMs.bwrapNode - report.medianMs.plainNode)} ms)`)
else console.log('  bwrap                 not installed (apt-get install bubblewrap)')
console.log(`  inside the sandbox, before the entry: ${round(report.insideSetupMedianMs)} ms ${JSON.stringify(report.insidePhasesMedianMs)}`)
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results', 'core.json'), JSON.stringify(report, null, 2) + '\n')
fs.rmSync(path.dirname(empty), { recursive: true, force: true })
