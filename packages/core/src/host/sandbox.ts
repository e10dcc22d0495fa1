/**
 * A started sandbox, supervised: the status pipe, the timer, signals and resets, the exit
 * decoding, the report and the teardown. Started by host/spawn.ts.
 */
import type { ChildProcess, Serializable } from 'node:child_process'
import { EventEmitter } from 'node:events'
import type { Readable, Writable } from 'node:stream'
import { SandboxError } from '../errors.js'
import type { HostForwarder } from '../forward/host-forwarder.js'
import type { ResolvedOptions } from '../options/schema.js'
import { SETUP_FAILED_STATUS, type StatusMessage } from '../protocol.js'
import { collectReport, type ReportContext } from '../report/collect.js'
import { tapInitLines } from '../report/init-tap.js'
import type { SideEffectReport } from '../report/types.js'
import type { CgroupUsage, SandboxCgroup } from './cgroups/index.js'
import { diagnoseLaunchFailure, diagnoseMountFailure } from './diagnose.js'
import { decodeExit, type KillReason } from './exit-status.js'
import { holdMountNamespace } from './mount-namespace-hold.js'
import { removeRunScratch, removeSandboxScratch, type SandboxScratch } from './scratch.js'
import { findCommandPid } from './sandbox-pids.js'
import { readStatusLines } from './status-reader.js'

/** What `reset()` resolves with. */
export interface ResetResult {
  /** How long the init took: kill the rest, build the new tree, pivot. */
  ms: number
  /** Copy-on-write layers (one per overlay of the plan) that nothing had changed: the new state has the same ones, warm. */
  kept: number
  /** The new state was built ahead, while the command ran (nothing had changed any layer). */
  staged: boolean
}

export interface SandboxResult {
  code: number | null
  signal: NodeJS.Signals | null
  /** Set when the kernel or the timer ended (or constrained) the run. */
  reason?: KillReason
  message?: string
  usage?: CgroupUsage
  setupMs?: number
  /** Where setup time went inside the sandbox (koffi, cgroups, mounts, ...), in ms. */
  setupPhases?: Record<string, number>
  durationMs: number
  /** With `report: true`: what the sandbox changed and left running. */
  report?: SideEffectReport
}

/** What a sandbox needs beyond its launcher: the side-effect report's context, the host end of its forwards, the init's command pipe. */
export interface SandboxExtras {
  report?: ReportContext
  forwarder?: HostForwarder
  /** Resettable: the host's side of the status pipe, kept open for `reset` commands. */
  commands?: Writable
}

const live = new Set<Sandbox>()
let exitHookInstalled = false

/** At the runner's exit: every live sandbox killed and its scratch removed, then the run's. */
export function installExitHook (scratchBase: string): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const sandbox of live) sandbox.destroySync()
    removeRunScratch(scratchBase)
  })
}

/** A started sandbox. With `ipc`, it emits 'message' (message, handle) for what the sandboxed entry sends. */
export class Sandbox extends EventEmitter {
  readonly child: ChildProcess
  readonly options: ResolvedOptions
  /** Resolves when the sandbox is set up and its command is about to run. */
  readonly ready: Promise<void>
  /** Resolves when the sandbox has ended and been removed; rejects with SandboxError when setup failed. */
  readonly result: Promise<SandboxResult>
  private timedOut = false
  private finished = false
  private readonly resets: Array<{ resolve: (result: ResetResult) => void, reject: (error: Error) => void }> = []
  private releaseMountNamespace: (() => void) | undefined

  constructor (child: ChildProcess, options: ResolvedOptions, private readonly scratch: SandboxScratch,
    private readonly cgroup: SandboxCgroup, statusIndex: number, private readonly extras: SandboxExtras = {}) {
    super()
    this.child = child
    this.options = options
    const startedAt = performance.now()
    let commandExit: { status: number, code: number | null, signal: number | null } | undefined
    let setupMs: number | undefined
    let setupPhases: Record<string, number> | undefined
    let setupError: SandboxError | undefined
    let started = false
    let markReady: () => void = () => {}
    let failReady: (error: Error) => void = () => {}
    this.ready = new Promise((resolve, reject) => { markReady = resolve; failReady = reject })
    this.ready.catch(() => { /* observed through result */ })

    const statusStream = child.stdio[statusIndex] as NodeJS.ReadableStream as Readable
    readStatusLines(statusStream, (message: StatusMessage) => {
      if (message.type === 'started') {
        started = true
        if (child.pid !== undefined) this.releaseMountNamespace ??= holdMountNamespace(child.pid)
      } else if (message.type === 'ready') {
        setupMs = message.setupMs
        setupPhases = message.phases
        markReady()
        this.emit('ready')
      } else if (message.type === 'error') {
        setupError = new SandboxError(message.code, message.message, { details: message.details })
      } else if (message.type === 'init-exit') {
        commandExit = message
      } else if (message.type === 'reset') {
        const waiting = this.resets.shift()
        if ('kept' in message) waiting?.resolve({ ms: message.ms, kept: message.kept, staged: message.staged })
        else waiting?.reject(new SandboxError('NSB_SETUP_FAILED', `the sandbox could not be reset: ${message.error}`))
      }
    })

    const initLines = extras.report === undefined ? undefined : tapInitLines(statusStream)
    if (child.channel != null) {
      // Forwards' listening sockets stay with the host; every other message is the caller's.
      child.on('message', (message: Serializable, handle: unknown) => {
        if (extras.forwarder?.adopt(message, handle) !== true) this.emit('message', message, handle)
      })
    }

    const timer = options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => { this.timedOut = true; this.destroy() }, options.timeoutMs)
    timer?.unref()

    this.result = new Promise<SandboxResult>((resolve, reject) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.finished) return
        this.finished = true
        if (timer !== undefined) clearTimeout(timer)
        for (const waiting of this.resets.splice(0)) waiting.reject(new SandboxError('NSB_SETUP_FAILED', 'the sandbox ended before its reset was done'))
        extras.commands?.destroy()
        const usage = safely(() => cgroup.readUsage())
        const durationMs = Math.round(performance.now() - startedAt)
        const forwardsClosed = extras.forwarder?.close()
        const outcome = decodeExit({
          code, signal, commandExit, timedOut: this.timedOut, timeoutMs: options.timeoutMs,
          usage, memoryBytes: options.memoryBytes, pids: options.pids
        })
        // The report reads the scratch, so it comes before the clean-up.
        const reporting = extras.report === undefined || initLines === undefined || setupMs === undefined || setupError !== undefined
          ? Promise.resolve(undefined)
          : collectReport(extras.report, { initLines: initLines(), memoryPeakBytes: usage?.memoryPeakBytes, reason: outcome.reason })
            .catch((error: unknown) => emptyReport(`the report could not be read: ${(error as Error).message}`))
        void reporting.then(async (report) => {
          await forwardsClosed
          await this.cleanUp()
          if (setupError === undefined && code === SETUP_FAILED_STATUS && !started) {
            setupError = diagnoseLaunchFailure()
          } else if (setupError === undefined && !started && !this.timedOut && code !== null) {
            setupError = diagnoseLaunchFailure()
          } else if (setupError?.code === 'NSB_MOUNT_FAILED') {
            setupError = diagnoseMountFailure(setupError)
          }
          if (setupError !== undefined) {
            failReady(setupError)
            reject(setupError)
            return
          }
          if (setupMs === undefined) failReady(new SandboxError('NSB_SETUP_FAILED', 'the sandbox ended before it was ready'))
          resolve({ ...outcome, usage, setupMs, setupPhases, durationMs, ...(report === undefined ? {} : { report }) })
        })
      }
      child.on('close', finish)
      // When PID 1 has said how the command ended and every output pipe has closed - the
      // status pipe closes when unshare drops its copy on the way out, after everything in
      // the sandbox has ended - the result need not wait for the launcher to be reaped.
      // The same condition as Node's 'close' (and the IPC channel's end, which 'close'
      // does not wait for), with the init's status for the exit. The unmounts come later
      // (mount-namespace-hold.ts).
      const outputs = child.stdio.slice(1).filter((stream) => stream != null)
      let open = outputs.length + (child.connected ? 1 : 0)
      const closed = (): void => {
        if (--open === 0 && commandExit !== undefined) finish(commandExit.status, null)
      }
      for (const stream of outputs) stream.once('close', closed)
      if (child.connected) child.once('disconnect', closed)
      child.on('error', (error) => {
        // Only a failed spawn ends the sandbox here; a failed send() on a closed IPC
        // channel also emits 'error', and the real exit follows on 'close'.
        if (child.pid !== undefined) return
        setupError = new SandboxError('NSB_UTIL_LINUX_MISSING', `cannot start the launcher: ${error.message}`)
        finish(null, null)
      })
    })
    this.result.catch(() => { /* the caller decides whether to observe it */ })
    live.add(this)
  }

  /** Host pid of the sandboxed command (PID 2 inside) while it runs, looked up in /proc (sandbox-pids.ts). */
  get pid (): number | undefined {
    return this.finished || this.child.pid === undefined ? undefined : safely(() => findCommandPid(this.child.pid ?? 0))
  }

  /** Send a signal to the sandboxed command (PID 2); before it started, end the sandbox. */
  kill (signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.finished) return false
    const pid = signal === 'SIGKILL' ? undefined : this.pid
    if (pid === undefined) {
      this.destroy()
      return true
    }
    try {
      process.kill(pid, signal)
      return true
    } catch {
      return false
    }
  }

  /**
   * A fresh sandbox state while the command runs on (spawned with `resettable: true`):
   * every other process killed; new copy-on-write layers, /tmp, /run, /var/tmp, /dev/shm,
   * /proc and /dev; the hostname set again. What the command holds open (its own heap,
   * fds, its cwd) carries over: it must change directory again to see the new tree.
   */
  reset (): Promise<ResetResult> {
    const commands = this.extras.commands
    if (commands === undefined) return Promise.reject(new SandboxError('NSB_INVALID_OPTION', 'reset() needs a sandbox spawned with `resettable: true`'))
    if (this.finished) return Promise.reject(new SandboxError('NSB_SETUP_FAILED', 'the sandbox has ended'))
    return new Promise((resolve, reject) => {
      this.resets.push({ resolve, reject })
      commands.write('reset\n')
    })
  }

  /** End everything in the sandbox now. */
  destroy (): void {
    if (this.finished) return
    // SIGKILL to unshare triggers --kill-child on PID 1 (PR_SET_PDEATHSIG), and PID 1's
    // death ends the PID namespace. No pid from the sandbox is ever signalled.
    this.child.kill('SIGKILL')
    safely(() => this.cgroup.kill())
  }

  /** For process exit: no promises, just kill and delete. */
  destroySync (): void {
    this.destroy()
    void this.extras.forwarder?.close()
    safely(() => removeSandboxScratch(this.scratch))
  }

  send (message: Serializable, sendHandle?: unknown, callback?: (error: Error | null) => void): boolean {
    return this.child.send(message, sendHandle as undefined, callback)
  }

  private async cleanUp (): Promise<void> {
    live.delete(this)
    this.releaseMountNamespace?.()
    await safelyAsync(() => this.cgroup.remove())
    safely(() => removeSandboxScratch(this.scratch))
  }
}

function emptyReport (note: string): SideEffectReport {
  return { files: [], processes: [], ports: [], notes: [note] }
}

function safely<T> (fn: () => T): T | undefined {
  try {
    return fn()
  } catch {
    return undefined
  }
}

async function safelyAsync (fn: () => Promise<void>): Promise<void> {
  try {
    await fn()
  } catch {
    // teardown is best effort; the reaper and the next start cover what is left
  }
}
