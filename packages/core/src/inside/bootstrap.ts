/**
 * PID 2 of every sandbox. Started by the init inside fresh namespaces with the caller's
 * uid and the namespace's capabilities; prepares the sandbox, drops privileges, then
 * becomes the command (execve) or the Node entry (in-process import). Everything here
 * is synchronous until the handover: nothing may start the libuv thread pool while the
 * main thread still holds capabilities.
 */
import fs from 'node:fs'
import { SandboxError } from '../errors.js'
import { setInheritable } from '../ffi/libc.js'
import { SETUP_FAILED_STATUS, type BootstrapConfig } from '../protocol.js'
import { joinCgroups } from './cgroup-join.js'
import { execCommand, runNodeEntry } from './handover.js'
import { setUpHostAndNetwork } from './identity.js'
import { executeMountPlan } from './mounts.js'
import { dropPrivileges } from './privileges.js'
import { enterRoot } from './root.js'
import { StatusWriter } from './status.js'

const startedAt = performance.now()
const config = JSON.parse(process.argv[2] ?? '{}') as BootstrapConfig
const status = new StatusWriter(config.statusFd)

/** Host pids of this process and of the init, read from the host's /proc before it is replaced. */
function hostPids (): { pid: number, initPid: number } {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { pid: Number(stat.slice(0, stat.indexOf(' '))), initPid: Number(fields[1]) }
}

function setUp (): void {
  setInheritable(config.statusFd, false)
  status.send({ type: 'started', ...hostPids() })
  joinCgroups(config.cgroupProcs)
  executeMountPlan(config.plan)
  enterRoot(config.rootDir, config.cwd)
  setUpHostAndNetwork(config.hostname, config.network)
  dropPrivileges(config.keepCapabilities, config.lastCapability)
}

try {
  setUp()
} catch (error) {
  const sandboxError = error instanceof SandboxError
    ? error
    : new SandboxError('NSB_SETUP_FAILED', `sandbox setup failed: ${(error as Error).message}`)
  status.send({ type: 'error', code: sandboxError.code, message: sandboxError.message, details: sandboxError.details })
  process.exit(SETUP_FAILED_STATUS)
}

status.send({ type: 'ready', setupMs: Math.round((performance.now() - startedAt) * 100) / 100 })

if (config.handover.kind === 'exec') {
  try {
    execCommand(config.handover)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`ns-sandbox: ${message}\n`)
    process.exit(127)
  }
} else {
  process.on('exit', (code) => { status.send({ type: 'exit', code }) })
  await runNodeEntry(config.handover)
}
