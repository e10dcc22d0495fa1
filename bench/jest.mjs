// Jest with jest-environment-ns-sandbox against stock Jest, on three generated 50-file
// suites (see bench/jest/suite.mjs: two compiled by babel-jest, one by ts-jest): stock
// Jest, the preset with isolation 'file' (a sandbox per file), 'worker' (a sandbox per
// lane) and its default 'state' (a sandbox per lane, its state reset between files), run
// interleaved, BENCH_RUNS times each after one unmeasured warm-up round (which fills the
// transform cache). Medians and ratios against the stock runs of the same rounds go to
// stdout and to bench/results/jest.json, with where the sandboxed runs spend their time
// (from the runner's NS_SANDBOX_JEST_TRACE). Not part of the tests.
//
//   node bench/jest.mjs            BENCH_RUNS=5 BENCH_PROFILES=mixed,tsjest node bench/jest.mjs
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { FILES, PROFILES, createSuite } from './jest/suite.mjs'
import { breakdown, median } from './jest/stats.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.dirname(here)
const runs = Number(process.env.BENCH_RUNS ?? 3)
const profiles = (process.env.BENCH_PROFILES ?? 'mixed,light,tsjest').split(',').filter((name) => name in PROFILES)
const VARIANTS = ['stock', 'file', 'worker', 'state']
const SANDBOXED = VARIANTS.filter((v) => v !== 'stock')
const TARGETS = { file: 1.5, worker: 1.1, state: 1.15 }
const jestBin = path.join(repo, 'node_modules', 'jest', 'bin', 'jest.js')
const jestVersion = JSON.parse(fs.readFileSync(path.join(repo, 'node_modules', 'jest', 'package.json'), 'utf8')).version

/** CPU seconds of waited-for children of this process (utime + stime of `jest` and all it waited for). */
function childrenCpu () {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[13]) + Number(fields[14])
  return ticks / 100
}

function runJest (dir, variant, tracePath) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env }
    delete env.NS_SANDBOX_JEST_TRACE
    if (tracePath !== undefined) env.NS_SANDBOX_JEST_TRACE = tracePath
    const cpuBefore = childrenCpu()
    const start = performance.now()
    const child = spawn(process.execPath, [jestBin, '-c', `${variant}.config.cjs`, '--ci', '--silent'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk) => { stderr += chunk })
    child.on('close', (code) => {
      const ms = performance.now() - start
      if (code !== 0) reject(new Error(`${variant} exited ${code}:\n${stderr.slice(-3000)}`))
      else resolve({ ms, cpuS: childrenCpu() - cpuBefore })
    })
  })
}

const results = {}
const loadavgStart = os.loadavg()
for (const profile of profiles) {
  const dir = createSuite(repo, profile)
  const samples = Object.fromEntries(VARIANTS.map((v) => [v, { wallMs: [], cpuS: [], traces: [] }]))
  console.error(`${profile}: suite in ${dir}; warm-up round`)
  for (const variant of VARIANTS) await runJest(dir, variant)
  for (let i = 0; i < runs; i++) {
    for (const variant of VARIANTS) {
      const trace = variant === 'stock' ? undefined : path.join(dir, `trace-${variant}-${i}.jsonl`)
      const { ms, cpuS } = await runJest(dir, variant, trace)
      samples[variant].wallMs.push(Math.round(ms))
      samples[variant].cpuS.push(Math.round(cpuS * 100) / 100)
      if (trace !== undefined) samples[variant].traces.push(breakdown(fs.readFileSync(trace, 'utf8'), ms, variant))
      console.error(`${profile} run ${i + 1}/${runs} ${variant}: ${(ms / 1000).toFixed(2)} s wall, ${cpuS.toFixed(2)} s CPU`)
    }
  }
  const medianMs = Object.fromEntries(VARIANTS.map((v) => [v, median(samples[v].wallMs)]))
  results[profile] = {
    files: FILES,
    tests: FILES * PROFILES[profile].tests,
    wallMs: Object.fromEntries(VARIANTS.map((v) => [v, samples[v].wallMs])),
    cpuS: Object.fromEntries(VARIANTS.map((v) => [v, samples[v].cpuS])),
    medianMs,
    medianCpuS: Object.fromEntries(VARIANTS.map((v) => [v, median(samples[v].cpuS)])),
    ratio: Object.fromEntries(SANDBOXED.map((v) => [v, round(medianMs[v] / medianMs.stock)])),
    where: Object.fromEntries(SANDBOXED.map((v) => [v, mergeBreakdowns(samples[v].traces)]))
  }
  fs.rmSync(dir, { recursive: true, force: true })
}

function round (value) {
  return Math.round(value * 100) / 100
}

/** Median of each number across the runs' breakdowns. */
function mergeBreakdowns (list) {
  if (list.length === 0) return {}
  const keys = Object.keys(list[0])
  return Object.fromEntries(keys.map((key) => [key, median(list.map((entry) => entry[key]).filter((v) => typeof v === 'number'))]))
}

const report = {
  date: new Date().toISOString(),
  machine: { cpus: os.availableParallelism(), node: process.version, jest: jestVersion, loadavgStart, loadavgEnd: os.loadavg() },
  runs,
  warmup: 1,
  targets: TARGETS,
  profiles: results
}
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results', 'jest.json'), JSON.stringify(report, null, 2) + '\n')

const rows = [['suite', 'variant', 'median wall', 'ratio', 'target', 'median CPU']]
for (const [profile, result] of Object.entries(results)) {
  for (const variant of VARIANTS) {
    rows.push([profile, variant, `${(result.medianMs[variant] / 1000).toFixed(2)} s`,
      variant === 'stock' ? '1.00' : result.ratio[variant].toFixed(2),
      variant === 'stock' ? '' : `<= ${TARGETS[variant]}`,
      `${result.medianCpuS[variant].toFixed(1)} s`])
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
console.log(`Jest ${jestVersion}, Node ${process.version}, ${os.availableParallelism()} CPUs, ${runs} interleaved runs (load ${loadavgStart.map((l) => l.toFixed(1)).join(' ')})`)
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i])).join('  '))
for (const [profile, result] of Object.entries(results)) {
  console.log(`\n${profile}, where a sandboxed file's time goes (medians, ms):`)
  for (const variant of SANDBOXED) console.log(`  ${`${variant}:`.padEnd(7)} ${JSON.stringify(result.where[variant])}`)
}
