// What would a native launcher save? Times, in interleaved rounds: a plain Node start,
// the product's sandbox (setpriv -> unshare -> init -> bootstrap), the prototype
// nsb-launch.c with the product's own mount plan, the prototype with bubblewrap's
// filesystem (one bind of /), and bwrap itself. Medians of per-round differences to the
// plain start. Also Node's own uptime when the entry starts (process.uptime()), which
// shows what booting Node from fresh overlays costs. Not part of the tests or of
// `npm run bench`: a measurement for a design decision (see README.md).
//
//   node bench/experiments/native-launcher/compare.mjs [rounds]     (NSB_TRACE=1: per-step times)
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { planSandbox, spawnSandbox } from '@ns-sandbox/core'
import { median, round } from '../../vitest/stats.mjs'
// Not public API: the prototype joins a cgroup the way the product's sandboxes do.
import { createSandboxCgroup } from '../../../packages/core/dist/host/cgroups/index.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const rounds = Number(process.argv[2] ?? 60)
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-native-'))
const launcher = path.join(work, 'nsb-launch')
const built = spawnSync('cc', ['-O2', '-o', launcher, path.join(here, 'nsb-launch.c')], { stdio: 'inherit' })
if (built.status !== 0) throw new Error('cannot build nsb-launch.c (needs a C compiler: apt-get install gcc)')
const entry = path.join(work, 'entry.cjs')
// fs.writeSync, not process.stdout: a pipe's stdout stream costs ~3 ms to set up
fs.writeFileSync(entry, "require('fs').writeSync(1, String(process.uptime() * 1000))\n")
const SEPARATOR = '\x1f'
const bwrap = spawnSync('sh', ['-c', 'command -v bwrap'], { encoding: 'utf8' }).stdout.trim()

function timeProcess (file, args) {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk) => { out += chunk })
    child.on('error', reject)
    child.on('close', (code) => code === 0 ? resolve({ ms: performance.now() - start, bootMs: Number(out) }) : reject(new Error(`${file} exited ${code}`)))
  })
}

async function timeSandbox () {
  const start = performance.now()
  const sandbox = await spawnSandbox({ entry, stdio: 'ignore' })
  const result = await sandbox.result
  if (result.code !== 0) throw new Error(`sandbox exited ${result.code}`)
  return { ms: performance.now() - start }
}

/** A MountStep as the prototype's S record. */
function stepFields (step) {
  const flag = (value) => value === true ? '1' : '0'
  switch (step.op) {
    case 'mkdir': return ['mkdir', step.path, step.mode ?? '']
    case 'file': return ['file', step.path]
    case 'symlink': return ['symlink', step.linkTarget, step.path]
    case 'tmpfs': return ['tmpfs', step.target, step.mode, flag(step.readonly)]
    case 'overlay': return ['overlay', step.lower, step.upper, step.work, step.target]
    case 'bind': return ['bind', step.source, step.target, flag(step.readonly)]
    case 'proc': return ['proc', step.target]
    case 'devpts': return ['devpts', step.target]
    case 'sysfs': return ['sysfs', step.target, flag(step.fresh)]
  }
  throw new Error(`unknown step ${step.op}`)
}

let sequence = 0
const traces = []

/** The prototype, with the host preparation the product does (options, plan, scratch, cgroup). */
async function timePrototype (filesystem) {
  const start = performance.now()
  const { config } = await planSandbox({ entry, stdio: 'ignore' })
  fs.mkdirSync(config.rootDir, { recursive: true, mode: 0o700 }) // planSandbox removed its scratch
  const cgroup = createSandboxCgroup(`native${process.pid}`, String(++sequence), {})
  const steps = filesystem === 'plan' ? config.plan.map(stepFields) : [['bind', '/', config.rootDir, '0']]
  const records = [
    ['I', process.getuid(), process.getgid(), config.keepCapabilities ? '1' : '0', config.lastCapability, config.hostname, config.network],
    ...cgroup.procsFiles.map((file) => ['C', file]),
    ...steps.map((fields) => ['S', ...fields]),
    ['R', config.rootDir],
    ['D', process.cwd()],
    ['X', process.execPath, entry]
  ]
  const child = spawn(launcher, [], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] })
  const control = child.stdio[3]
  control.end(records.map((fields) => fields.join(SEPARATOR)).join('\n'))
  let status = ''
  let out = ''
  let err = ''
  control.on('data', (chunk) => { status += chunk })
  child.stdout.on('data', (chunk) => { out += chunk })
  child.stderr.on('data', (chunk) => { err += chunk })
  // Done when every pipe has ended (the launcher closes them before it unmounts).
  await Promise.all([control, child.stdout, child.stderr].map((stream) => new Promise((resolve) => stream.on('close', resolve))))
  if (status.trim() !== 'exit 0') throw new Error(`nsb-launch: ${status.trim()} ${err}`)
  fs.rmSync(path.dirname(config.rootDir), { recursive: true, force: true })
  await cgroup.remove()
  if (filesystem === 'plan') traces.push(err)
  return { ms: performance.now() - start, bootMs: Number(out) }
}

const kinds = {
  sandbox: () => timeSandbox(),
  nativePlan: () => timePrototype('plan'),
  nativeBindRoot: () => timePrototype('bind-root'),
  ...(bwrap === '' ? {} : { bwrap: () => timeProcess(bwrap, ['--unshare-all', '--dev-bind', '/', '/', process.execPath, entry]) })
}
const samples = { plain: [], plainBoot: [] }
for (const kind of Object.keys(kinds)) Object.assign(samples, { [kind]: [], [`${kind}Added`]: [], [`${kind}Boot`]: [] })

for (const run of Object.values(kinds)) await run() // warm caches once
for (let round = 0; round < rounds; round++) {
  const plain = await timeProcess(process.execPath, [entry])
  samples.plain.push(plain.ms)
  samples.plainBoot.push(plain.bootMs)
  // Rotate the order, so no kind always runs right after the plain start.
  const names = Object.keys(kinds)
  for (let i = 0; i < names.length; i++) {
    const kind = names[(round + i) % names.length]
    const timing = await kinds[kind]()
    samples[kind].push(timing.ms)
    samples[`${kind}Added`].push(timing.ms - plain.ms)
    if (timing.bootMs !== undefined) samples[`${kind}Boot`].push(timing.bootMs)
  }
}

const round1 = (n) => round(n).toFixed(1)
console.log(`native launcher prototype vs the product (${rounds} rounds, Node ${process.version}, uid ${process.getuid()})`)
console.log(`  plain node entry        ${round1(median(samples.plain))} ms   node uptime at the entry ${round1(median(samples.plainBoot))} ms`)
const labels = { sandbox: 'ns-sandbox (product)', nativePlan: 'prototype, product plan', nativeBindRoot: 'prototype, bind of /', bwrap: 'bwrap --dev-bind / /' }
for (const kind of Object.keys(kinds)) {
  const boot = samples[`${kind}Boot`].length > 0 ? `   node uptime at the entry ${round1(median(samples[`${kind}Boot`]))} ms` : ''
  console.log(`  ${labels[kind].padEnd(24)}${round1(median(samples[kind]))} ms   paired +${round1(median(samples[`${kind}Added`]))} ms${boot}`)
}
if (process.env.NSB_TRACE !== undefined) {
  const byStep = new Map()
  for (const trace of traces) {
    for (const line of trace.split('\n')) {
      const [tag, name, ns] = line.split(' ')
      if (tag !== 'T') continue
      byStep.set(name, [...(byStep.get(name) ?? []), Number(ns) / 1000])
    }
  }
  console.log('  prototype setup steps, per start (microseconds): total, count, median each')
  for (const [name, values] of [...byStep].sort((a, b) => b[1].reduce((s, v) => s + v, 0) - a[1].reduce((s, v) => s + v, 0))) {
    const total = values.reduce((s, v) => s + v, 0) / traces.length
    console.log(`    ${name.padEnd(22)}${total.toFixed(0).padStart(6)}  ${(values.length / traces.length).toFixed(0).padStart(3)}  ${median(values).toFixed(1).padStart(6)}`)
  }
}
fs.rmSync(work, { recursive: true, force: true })
