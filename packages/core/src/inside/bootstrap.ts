/**
 * PID 2 of every sandbox. Started by the init inside fresh namespaces with the caller's
 * uid and the namespace's capabilities; prepares the sandbox, drops privileges, then
 * becomes the command (execve) or runs the Node entry in-process (Module.runMain).
 * Everything here is synchronous until the handover: nothing may start the libuv thread
 * pool while the main thread still holds capabilities.
 *
 * Shipped as one CommonJS bundle (dist/inside/bootstrap.cjs, scripts/bundle-bootstrap.mjs):
 * Node 20 loads a dozen small ES modules in ~15 ms, one CommonJS file in under 1 ms.
 */
import { readFileSync } from 'node:fs'
import { SandboxError } from '../errors.js'
import { loadLibc, setInheritable } from '../ffi/libc.js'
import { passListenersToHost } from '../forward/pass-listeners.js'
import { SETUP_FAILED_STATUS, type BootstrapConfig } from '../protocol.js'
import { joinCgroups } from './cgroup-join.js'
import { execCommand, runNodeEntry } from './handover.js'
import { setUpHostAndNetwork } from './identity.js'
import { executeMountPlan } from './mounts.js'
import { dropPrivileges } from './privileges.js'
import { enterRoot } from './root.js'
import { StatusWriter } from './status.js'

// Not `performance.now()`: the global loads perf_hooks on first use, ~4 ms of a Node 20 start.
const now = (): number => process.uptime() * 1000
const startedAt = now()
// The host writes the configuration on the status pipe and ends its side (argv[2]: the fd).
const config = JSON.parse(readFileSync(Number(process.argv[2]), 'utf8')) as BootstrapConfig
const status = new StatusWriter(config.statusFd)

/** Host pids of this process and of the init, read from the host's /proc before it is replaced. */
function hostPids (): { pid: number, initPid: number } {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { pid: Number(stat.slice(0, stat.indexOf(' '))), initPid: Number(fields[1]) }
}

/** Milliseconds spent in each setup phase, reported with `ready` (the benchmarks read them). */
const phases: Record<string, number> = { sinceProcessStart: Math.round(startedAt * 100) / 100 }
let phaseStart = startedAt
function phase (name: string): void {
  const at = now()
  phases[name] = Math.round((at - phaseStart) * 100) / 100
  phaseStart = at
}

const forwards = config.forwards ?? []

function setUp (): void {
  phase('config')
  loadLibc(config.koffiAddon)
  phase('koffi')
  setInheritable(config.statusFd, false)
  status.send({ type: 'started', ...hostPids() })
  phase('started')
  joinCgroups(config.cgroupProcs)
  phase('cgroups')
  executeMountPlan(config.plan)
  phase('mounts')
  enterRoot(config.rootDir, config.cwd)
  setUpHostAndNetwork(config.hostname, config.network)
  dropPrivileges(config.keepCapabilities, config.lastCapability)
  phase('rootAndPrivileges')
}

function fail (error: unknown): never {
  const sandboxError = error instanceof SandboxError
    ? error
    : new SandboxError('NSB_SETUP_FAILED', `sandbox setup failed: ${(error as Error).message}`)
  status.send({ type: 'error', code: sandboxError.code, message: sandboxError.message, details: sandboxError.details })
  process.exit(SETUP_FAILED_STATUS)
}

/** After privileges are dropped: the host accepts on the sockets before the test's first instruction. */
async function startForwards (): Promise<void> {
  try {
    await passListenersToHost(forwards, { keepChannel: config.keepChannel === true })
  } catch (error) {
    throw new SandboxError('NSB_FORWARD_FAILED', `option \`forward\`: cannot listen inside the sandbox: ${(error as Error).message}`)
  }
  phase('forwards')
}

function handOver (): void {
  status.send({ type: 'ready', setupMs: Math.round((now() - startedAt) * 100) / 100, phases })
  if (config.handover.kind === 'exec') {
    exec(config.handover)
  } else {
    process.on('exit', (code) => { status.send({ type: 'exit', code }) })
    runNodeEntry(config.handover)
  }
}

function exec (handover: Extract<BootstrapConfig['handover'], { kind: 'exec' }>): void {
  try {
    execCommand(handover)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`ns-sandbox: ${message}\n`)
    process.exit(127)
  }
}

try {
  setUp()
} catch (error) {
  fail(error)
}

if (forwards.length === 0) handOver()
else startForwards().then(handOver, fail)
