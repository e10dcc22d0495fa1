#!/usr/bin/env node
// Benchmark: a generated 100-file Vitest suite, Vitest's stock `forks` pool against
// nsSandbox(), in interleaved runs; prints a table and writes bench/results/vitest.json.
// Where the sandboxed per-file time goes comes from the pool's own timings
// (NS_SANDBOX_VITEST_TIMINGS): host-side spawn, namespaces + mounts until `ready`,
// the Vitest worker's start inside, the test file itself.
//
//   node bench/vitest.mjs [--runs 5] [--warmup 1] [--no-prespawn] [--keep]
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { median, round, table } from './vitest/stats.mjs'
import { createSuite } from './vitest/suite.mjs'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const argv = process.argv.slice(2)
const option = (name, fallback) => {
  const at = argv.indexOf(`--${name}`)
  return at === -1 ? fallback : Number(argv[at + 1])
}
const runs = option('runs', 5)
const warmup = option('warmup', 1)
const keep = argv.includes('--keep')
const pluginOptions = argv.includes('--no-prespawn') ? { prespawn: false } : {}
const EXPECTED_TESTS = 220

if (!fs.existsSync(path.join(repo, 'packages/vitest-plugin/dist/index.js'))) {
  console.error('build first: npm run build')
  process.exit(1)
}

async function runOnce (suite, kind, index) {
  const timings = path.join(suite, `timings-${kind}-${index}.jsonl`)
  const report = path.join(suite, 'report.json')
  fs.rmSync(report, { force: true })
  const started = performance.now()
  const child = spawn(process.execPath, [path.join(suite, 'node_modules/vitest/vitest.mjs'), 'run', '--config', `${kind}.config.js`,
    '--reporter=json', '--outputFile=report.json'], {
    cwd: suite,
    env: { ...process.env, NO_COLOR: '1', ...(kind === 'sandbox' ? { NS_SANDBOX_VITEST_TIMINGS: timings } : {}) },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const code = await new Promise((resolve) => child.on('close', resolve))
  const wallMs = performance.now() - started
  const result = fs.existsSync(report) ? JSON.parse(fs.readFileSync(report, 'utf8')) : undefined
  if (code !== 0 || result?.numPassedTests !== EXPECTED_TESTS) {
    throw new Error(`${kind} run ${index} failed (exit ${code}, ${result?.numPassedTests ?? 0}/${EXPECTED_TESTS} passed):\n${stderr}`)
  }
  const files = kind === 'sandbox' && fs.existsSync(timings)
    ? fs.readFileSync(timings, 'utf8').trim().split('\n').map((line) => JSON.parse(line))
    : []
  return { wallMs, files }
}

const suite = createSuite(repo, pluginOptions)
const vitestVersion = JSON.parse(fs.readFileSync(path.join(repo, 'node_modules/vitest/package.json'), 'utf8')).version
console.log(`suite: ${suite} (100 files, ${EXPECTED_TESTS} tests); nsSandbox(${JSON.stringify(pluginOptions)}); Vitest ${vitestVersion}, Node ${process.version}, ${os.availableParallelism()} cpus`)
const measured = { stock: [], sandbox: [] }
const perFile = []
try {
  for (let index = 0; index < warmup + runs; index++) {
    const order = index % 2 === 0 ? ['stock', 'sandbox'] : ['sandbox', 'stock']
    for (const kind of order) {
      const { wallMs, files } = await runOnce(suite, kind, index)
      const counted = index >= warmup
      console.log(`${counted ? 'run' : 'warmup'} ${index - warmup + 1} ${kind.padEnd(7)} ${(wallMs / 1000).toFixed(2)} s  (load ${os.loadavg()[0].toFixed(2)})`)
      if (!counted) continue
      measured[kind].push(wallMs)
      if (kind === 'sandbox') perFile.push(...files)
    }
  }
} finally {
  if (!keep) fs.rmSync(suite, { recursive: true, force: true })
}

const stockMedian = median(measured.stock)
const sandboxMedian = median(measured.sandbox)
const ratio = sandboxMedian / stockMedian
const phaseNames = [...new Set(perFile.flatMap((file) => Object.keys(file.setupPhases ?? {})))]
const breakdown = Object.fromEntries(['spawnMs', 'readyMs', 'setupMs', 'workerStartMs', 'runMs', 'totalMs']
  .map((key) => [key, round(median(perFile.map((file) => file[key])))]))
const phases = Object.fromEntries(phaseNames.map((name) => [name, round(median(perFile.map((file) => file.setupPhases?.[name])))]))

console.log('\n' + table([
  ['pool', ...measured.stock.map((_, i) => `run ${i + 1}`), 'median'],
  ['forks (stock)', ...measured.stock.map((ms) => (ms / 1000).toFixed(2)), (stockMedian / 1000).toFixed(2)],
  ['nsSandbox()', ...measured.sandbox.map((ms) => (ms / 1000).toFixed(2)), (sandboxMedian / 1000).toFixed(2)]
]))
console.log(`\nratio nsSandbox / forks: ${ratio.toFixed(3)} (target <= 1.05)`)
const prespawned = perFile.filter((file) => file.prespawned === true).length
console.log(`\nper sandboxed file, median ms (${perFile.length} files, ${prespawned} of them in a pre-spawned sandbox):`)
console.log(table([
  ['host: live paths + spawn', breakdown.spawnMs],
  ['spawn -> ready (namespaces, cgroup, mounts)', breakdown.readyMs],
  ['  of which bootstrap setup (core setupMs)', breakdown.setupMs],
  ...phaseNames.map((name) => [`    ${name}`, phases[name]]),
  ['ready -> worker started (Node + Vitest worker)', breakdown.workerStartMs],
  ['worker started -> file finished', breakdown.runMs],
  ['first request -> sandbox removed', breakdown.totalMs]
]))

const result = {
  date: new Date().toISOString(),
  machine: { cpus: os.availableParallelism(), node: process.version, vitest: vitestVersion, loadavg: os.loadavg().map((v) => round(v, 2)) },
  suite: { files: 100, tests: EXPECTED_TESTS },
  pluginOptions,
  runs,
  warmup,
  wallMs: { stock: measured.stock.map((v) => round(v)), sandbox: measured.sandbox.map((v) => round(v)) },
  medianMs: { stock: round(stockMedian), sandbox: round(sandboxMedian) },
  ratio: round(ratio, 3),
  target: 1.05,
  perFileMedianMs: { ...breakdown, setupPhases: phases },
  prespawnedFiles: prespawned,
  sandboxedFiles: perFile.length
}
fs.mkdirSync(path.join(repo, 'bench/results'), { recursive: true })
const output = `bench/results/vitest${pluginOptions.prespawn === false ? '-no-prespawn' : ''}.json`
fs.writeFileSync(path.join(repo, output), JSON.stringify(result, null, 2) + '\n')
console.log(`\nwritten: ${output}`)
