/**
 * PID 2 of every sandbox. Forked by the init (init.pl) and exec'd with no capabilities
 * and no_new_privs, from the host's tree, while the init builds the sandbox's tree. Says
 * on the sync socket that it has booted, waits until the init has moved it into that
 * tree, then becomes the command (execve) or runs the Node entry in-process
 * (Module.runMain).
 *
 * Shipped as one CommonJS bundle (dist/inside/bootstrap.cjs, scripts/bundle-bootstrap.mjs):
 * Node 20 loads a dozen small ES modules in ~15 ms, one CommonJS file in under 1 ms.
 */
import { closeSync, readSync, writeSync } from 'node:fs'
import { SandboxError } from '../errors.js'
import { loadLibc } from '../ffi/libc.js'
import { passListenersToHost } from '../forward/pass-listeners.js'
import { SETUP_FAILED_STATUS, type BootstrapConfig } from '../protocol.js'
import { execCommand, runNodeEntry } from './handover.js'
import { StatusWriter } from './status.js'

/** 10 digits of length, then that many bytes (host/init-config.ts, encodeBootstrapConfig). */
function readFramed (fd: number): Buffer {
  const readExactly = (length: number): Buffer => {
    const buffer = Buffer.alloc(length)
    for (let at = 0; at < length;) {
      const got = readSync(fd, buffer, at, length - at, null)
      if (got === 0) process.exit(SETUP_FAILED_STATUS) // the host went away before the sandbox started
      at += got
    }
    return buffer
  }
  return readExactly(Number(readExactly(10).toString('latin1')))
}

// Not `performance.now()`: the global loads perf_hooks on first use, ~4 ms of a Node 20 start.
const now = (): number => process.uptime() * 1000
const startedAt = now()
// argv: the status fd, whose rest after the init's part is this configuration (the host
// ends its side), and the sync socket to the init.
const syncFd = Number(process.argv[3])
const config = JSON.parse(readFramed(Number(process.argv[2])).toString('utf8')) as BootstrapConfig
const status = new StatusWriter(config.statusFd)

/** Milliseconds spent in each setup phase, reported with `ready` (the benchmarks read them). */
const phases: Record<string, number> = { sinceProcessStart: Math.round(startedAt * 100) / 100 }
let phaseStart = startedAt
function phase (name: string): void {
  const at = now()
  phases[name] = Math.round((at - phaseStart) * 100) / 100
  phaseStart = at
}

const forwards = config.forwards ?? []

/** The init's answer: its phase times as a JSON line, once this process is in the sandbox's root. */
function awaitRoot (): Record<string, number> {
  const chunks: Buffer[] = []
  const buffer = Buffer.alloc(256)
  for (;;) {
    const length = readSync(syncFd, buffer)
    // The init failed and said why on the status fd; the namespace ends with it.
    if (length === 0) process.exit(SETUP_FAILED_STATUS)
    chunks.push(Buffer.from(buffer.subarray(0, length)))
    if (buffer[length - 1] === 0x0a) break
  }
  closeSync(syncFd)
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, number>
}

function setUp (): void {
  phase('config')
  // execve needs koffi. Loaded from the host's tree, so before the init pivot_roots (an
  // archive's root has no koffi). A Node entry needs none.
  if (config.handover.kind === 'exec') {
    loadLibc(config.koffiAddon)
    phase('koffi')
  }
  writeSync(syncFd, 'b')
  Object.assign(phases, awaitRoot())
  try {
    process.chdir(config.cwd)
  } catch {
    // The working directory may not exist in a root filesystem from an archive.
    process.chdir('/')
  }
  phase('handshake')
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
  // The test's process and whatever it starts never hold the status pipe: the init reports
  // how the command ended.
  status.close()
  if (config.handover.kind === 'exec') exec(config.handover)
  else runNodeEntry(config.handover)
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
