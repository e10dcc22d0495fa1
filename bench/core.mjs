// Per-start cost of a sandbox: a sandboxed Node start (`node -e 0` equivalent: an empty
// CommonJS entry run in the sandbox's Node, loaded as `node file` loads it) against a
// plain `node -e 0`, and bubblewrap's `bwrap --unshare-all --dev-bind / / node -e 0`
// when it is installed. Interleaved rounds; medians of each, and the median of the
// per-round differences (this VM's speed drifts by several ms between minutes, and
// a paired difference cancels most of that). Not part of the tests.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
// BENCH_CORE=<path to another checkout's packages/core/dist/index.js>: the same benchmark
// against that code (an A/B between commits, built in a worktree).
const { spawnSandbox } = await import(process.env.BENCH_CORE ?? '@ns-sandbox/core')

const here = path.dirname(fileURLToPath(import.meta.url))
const runs = Number(process.env.BENCH_RUNS ?? 30)
const empty = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-bench-')), 'empty.cjs')
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
const samples = { plain: [], sandbox: [], bwrap: [], added: [], bwrapAdded: [], setup: [], phases: {} }
await timeSandbox() // warm the page cache and the host-side caches once
for (let i = 0; i < runs; i++) {
  const plain = await timeSpawn(process.execPath, ['-e', '0'])
  samples.plain.push(plain)
  const sandboxed = await timeSandbox()
  samples.sandbox.push(sandboxed.ms)
  samples.added.push(sandboxed.ms - plain)
  samples.setup.push(sandboxed.setupMs)
  for (const [name, ms] of Object.entries(sandboxed.phases ?? {})) (samples.phases[name] ??= []).push(ms)
  if (bwrap !== '') {
    const wrapped = await timeSpawn(bwrap, ['--unshare-all', '--dev-bind', '/', '/', process.execPath, '-e', '0'])
    samples.bwrap.push(wrapped)
    samples.bwrapAdded.push(wrapped - plain)
  }
}

// Issue #18 (which replaced issue #2's 10 ms, measured without the CA bundle variable):
// the sandbox adds at most 15 ms (paired median) to a Node start on the project's VM.
const TARGET_ADDS_MS = 15

const report = {
  node: process.version,
  runs,
  targetAddsMs: TARGET_ADDS_MS,
  medianMs: {
    plainNode: median(samples.plain),
    sandboxedNode: median(samples.sandbox),
    ...(bwrap === '' ? {} : { bwrapNode: median(samples.bwrap) })
  },
  sandboxAddsMs: median(samples.sandbox) - median(samples.plain),
  sandboxAddsPairedMs: median(samples.added),
  ...(bwrap === '' ? {} : { bwrapAddsPairedMs: median(samples.bwrapAdded) }),
  ratio: median(samples.sandbox) / median(samples.plain),
  insideSetupMedianMs: median(samples.setup),
  insidePhasesMedianMs: Object.fromEntries(Object.entries(samples.phases).map(([k, v]) => [k, median(v)]))
}
const round = (n) => Math.round(n * 10) / 10
console.log(`ns-sandbox core benchmark (${runs} interleaved runs, Node ${process.version})`)
console.log(`  plain node -e 0       ${round(report.medianMs.plainNode)} ms`)
console.log(`  sandboxed node start  ${round(report.medianMs.sandboxedNode)} ms   (+${round(report.sandboxAddsMs)} ms, x${report.ratio.toFixed(3)}; paired: +${round(report.sandboxAddsPairedMs)} ms)`)
console.log(`  target: at most +${TARGET_ADDS_MS} ms (paired): ${report.sandboxAddsPairedMs <= TARGET_ADDS_MS ? 'met' : 'not met'}`)
if (bwrap !== '') console.log(`  bwrap node -e 0       ${round(report.medianMs.bwrapNode)} ms   (+${round(report.medianMs.bwrapNode - report.medianMs.plainNode)} ms; paired: +${round(report.bwrapAddsPairedMs)} ms)`)
else console.log('  bwrap                 not installed (apt-get install bubblewrap)')
console.log(`  inside the sandbox, before the entry: ${round(report.insideSetupMedianMs)} ms ${JSON.stringify(report.insidePhasesMedianMs)}`)
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results', 'core.json'), JSON.stringify(report, null, 2) + '\n')
fs.rmSync(path.dirname(empty), { recursive: true, force: true })
