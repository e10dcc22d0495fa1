/**
 * One sandbox, from options to a cleaned-up result: scratch and cgroup, the mount plan,
 * the launch chain, the status pipe, the timer, the exit decoding and the teardown.
 */
import { spawn, type ChildProcess, type IOType, type Serializable, type StdioOptions } from 'node:child_process'
import { EventEmitter, once } from 'node:events'
import type { Writable } from 'node:stream'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { SandboxError } from '../errors.js'
import { koffiAddonPath } from '../ffi/addon-path.js'
import { HostForwarder } from '../forward/host-forwarder.js'
import { resolveOptions, type ResolvedOptions, type SandboxOptions } from '../options/schema.js'
import { buildMountPlan, PlanError, type MountStep } from '../plan/mount-plan.js'
import { SETUP_FAILED_STATUS, type BootstrapConfig, type Handover, type InitConfig, type StatusMessage } from '../protocol.js'
import { collectReport, type ReportContext } from '../report/collect.js'
import { tapInitLines } from '../report/init-tap.js'
import type { SideEffectReport } from '../report/types.js'
import { parseCgroupMounts, runDirName } from './cgroups/formats.js'
import { createSandboxCgroup, removeStaleCgroups, type CgroupUsage, type SandboxCgroup } from './cgroups/index.js'
import { diagnoseLaunchFailure, diagnoseMountFailure } from './diagnose.js'
import { decodeExit, type KillReason } from './exit-status.js'
import { encodeBootstrapConfig, encodeInitConfig } from './init-config.js'
import { buildLaunchCommand, chainEnvironment } from './launch-command.js'
import { holdMountNamespace } from './mount-namespace-hold.js'
import { writeHostsFile } from './hosts-file.js'
import { gatherPlanInput } from './plan-input.js'
import { startReaper } from './reaper.js'
import { currentRunId, isRunAlive } from './run-id.js'
import { createSandboxScratch, removeRunScratch, removeSandboxScratch, runDirectory, type SandboxScratch } from './scratch.js'
import { findCommandPid } from './sandbox-pids.js'
import { readStatusLines } from './status-reader.js'
import { pickSandboxOptions, rejectUnknownKeys, workingDirectory } from './spawn-options.js'
import { launchTools } from './tools.js'

export type StdioEntry = IOType | 'inherit' | number

export interface SpawnSandboxOptions extends SandboxOptions {
  /** Run a command (execve'd inside; becomes PID 2). */
  command?: string
  args?: string[]
  /** Or run a Node module in the sandbox's Node process (with an IPC channel if `ipc`). */
  entry?: string
  execArgv?: string[]
  cwd?: string
  env?: NodeJS.ProcessEnv
  stdio?: 'inherit' | 'pipe' | 'ignore' | [StdioEntry, StdioEntry, StdioEntry]
  ipc?: boolean
  serialization?: 'json' | 'advanced'
  /** The Node binary for the bootstrap (default: the runner's). */
  nodePath?: string
  /**
   * Host paths the process needs to see (its modules, say) where a fresh area or a root
   * filesystem would hide them: brought back copy-on-write, like the cwd. Absolute.
   */
  keep?: string[]
  /**
   * Allow `reset()`: a fresh sandbox state for the next job while the command runs on (a
   * test runner's warm worker). Not with `root` (the init keeps a handle on the host's
   * tree, which a sandbox with the namespace's capabilities could reach) nor `report`.
   */
  resettable?: boolean
}

/** What `reset()` resolves with. */
export interface ResetResult {
  /** How long the init took: kill the rest, build the new tree, pivot. */
  ms: number
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

const bootstrapPath = fileURLToPath(new URL('../inside/bootstrap.cjs', import.meta.url))
const initPath = fileURLToPath(new URL('../inside/init.pl', import.meta.url))
const live = new Set<Sandbox>()
let lastCapability: number | undefined
let exitHookInstalled = false

function readLastCapability (): number {
  lastCapability ??= Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim())
  return lastCapability
}

function installExitHook (scratchBase: string): void {
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

    const statusStream = child.stdio[statusIndex] as NodeJS.ReadableStream as import('node:stream').Readable
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
        if (message.error === undefined) waiting?.resolve({ ms: message.ms })
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

function handoverOf (options: SpawnSandboxOptions): Handover {
  if ((options.command === undefined) === (options.entry === undefined)) {
    throw new SandboxError('NSB_INVALID_OPTION', 'give exactly one of `command` (a program to run) or `entry` (a Node module to load)')
  }
  if (options.entry !== undefined) return { kind: 'node', entry: path.resolve(options.entry), args: options.args ?? [] }
  return { kind: 'exec', command: options.command ?? '', args: options.args ?? [] }
}

/** An IPC channel when the caller asks for one, and for forwards: it carries their listening sockets out. */
function hasChannel (options: SpawnSandboxOptions, resolved: ResolvedOptions): boolean {
  return options.ipc === true || resolved.forwards.length > 0
}

function stdioOf (options: SpawnSandboxOptions, channel: boolean): StdioOptions {
  const base = options.stdio === undefined || typeof options.stdio === 'string'
    ? [options.stdio ?? 'inherit', options.stdio ?? 'inherit', options.stdio ?? 'inherit']
    : [...options.stdio]
  return [...base, ...(channel ? ['ipc'] : []), 'pipe'] as StdioOptions
}

export interface PreparedSandbox {
  options: ResolvedOptions
  plan: MountStep[]
  config: BootstrapConfig
  init: InitConfig
  launch: { file: string, args: string[], identityNote?: string }
}

async function resolveRootfsDir (options: ResolvedOptions): Promise<string | undefined> {
  if (options.rootfs === 'host') return undefined
  const { resolveRootfs } = await import('../rootfs/index.js')
  return await resolveRootfs(options.rootfs, options.rootfsCacheDir === undefined ? {} : { cacheDir: options.rootfsCacheDir })
}

/** What the spawn needs: options resolved, the root filesystem found, the launch command. */
interface LaunchPlan {
  resolved: ResolvedOptions
  handover: Handover
  rootfsDir: string | undefined
  cwd: string
  nodePath: string
  statusFd: number
  /** Host facts the bootstrap needs; looked up here so a broken install fails before anything runs. */
  koffiAddon: string
  lastCapability: number
  /** The chain's environment, and what PID 2 gets back (chainEnvironment). */
  chainEnv: ReturnType<typeof chainEnvironment>
  launch: PreparedSandbox['launch']
}

async function planLaunch (options: SpawnSandboxOptions): Promise<LaunchPlan> {
  rejectUnknownKeys(options)
  // `~` in masks and binds is the sandbox's HOME (and the account's home from passwd).
  const resolved = resolveOptions(pickSandboxOptions(options as SandboxOptions & Record<string, unknown>),
    (options.env ?? process.env).HOME || os.homedir())
  if (options.keep !== undefined && !(Array.isArray(options.keep) && options.keep.every((p) => typeof p === 'string' && path.isAbsolute(p)))) {
    throw new SandboxError('NSB_INVALID_OPTION', 'option `keep`: expected an array of absolute host paths')
  }
  const handover = handoverOf(options)
  if (options.resettable === true && (resolved.root || resolved.report)) {
    throw new SandboxError('NSB_INVALID_OPTION', resolved.root
      ? 'option `resettable` cannot be combined with `root`: the init keeps a handle on the host\'s tree to rebuild the state, and a sandbox with the namespace\'s capabilities could reach it'
      : 'option `resettable` cannot be combined with `report` yet: the report reads the layers after the sandbox ends')
  }
  const tools = launchTools()
  const rootfsDir = await resolveRootfsDir(resolved)
  const nodePath = options.nodePath ?? process.execPath
  const statusFd = hasChannel(options, resolved) ? 4 : 3
  const launch = buildLaunchCommand(tools, {
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    root: resolved.root,
    network: resolved.network,
    nodePath,
    execArgv: options.execArgv ?? [],
    bootstrapPath,
    initPath,
    statusFd
  })
  return {
    resolved,
    handover,
    rootfsDir,
    cwd: workingDirectory(options.cwd),
    nodePath,
    statusFd,
    koffiAddon: koffiAddonPath(),
    lastCapability: readLastCapability(),
    chainEnv: chainEnvironment(options.env ?? process.env),
    launch
  }
}

/** The rest of the preparation; also what `--dry-run` prints. Creates scratch and cgroup. */
interface PreparedRun extends PreparedSandbox {
  scratch: SandboxScratch
  cgroup: SandboxCgroup
  report: ReportContext | undefined
}

/**
 * Synchronous on purpose: spawnSandbox runs it between the spawn and the Sandbox that
 * listens to the child, and no event of the child may come in between. Fails having
 * removed what it made (the cgroup is created last and undoes itself).
 */
function prepareRun (options: SpawnSandboxOptions, launch: LaunchPlan, cgroupFor: (resolved: ResolvedOptions) => SandboxCgroup): PreparedRun {
  const { resolved, handover, rootfsDir, cwd, nodePath, statusFd } = launch
  // What the process needs to see even where a fresh tmpfs or a root filesystem hides the
  // host: its cwd and, for a Node entry, the entry and the Node binary (child processes).
  // A command is looked up in the sandbox's own filesystem.
  const keep = [cwd, ...(handover.kind === 'node' ? [handover.entry, nodePath] : []), ...(options.keep ?? [])]
  const sandboxScratch = createSandboxScratch(resolved.scratchDir)
  const freshDir = resolved.report ? path.join(sandboxScratch.dir, 'fresh') : undefined
  try {
    const plan = buildMountPlan({
      ...gatherPlanInput(resolved, {
        rootDir: sandboxScratch.rootDir,
        layersDir: sandboxScratch.layersDir,
        rootfsDir,
        keep,
        exclude: [resolved.scratchDir, ...(rootfsDir === undefined ? [] : [rootfsDir])],
        hosts: writeHostsFile(sandboxScratch.dir, rootfsDir, resolved.hostname)
      }),
      freshDir
    })
    const cgroup = cgroupFor(resolved)
    const init: InitConfig = {
      arch: process.arch,
      plan,
      rootDir: sandboxScratch.rootDir,
      hostname: resolved.hostname,
      network: resolved.network,
      keepCapabilities: resolved.root,
      lastCapability: launch.lastCapability,
      cgroupProcs: cgroup.procsFiles,
      report: resolved.report,
      resettable: options.resettable === true,
      layersDir: sandboxScratch.layersDir,
      restoreEnv: launch.chainEnv.restore
    }
    const config: BootstrapConfig = {
      statusFd,
      koffiAddon: launch.koffiAddon,
      cwd,
      handover,
      ...(resolved.forwards.length === 0
        ? {}
        : {
            forwards: resolved.forwards,
            keepChannel: options.ipc === true
          })
    }
    const report: ReportContext | undefined = freshDir === undefined
      ? undefined
      : {
          plan,
          rootDir: sandboxScratch.rootDir,
          layersDir: sandboxScratch.layersDir,
          freshDir,
          rootfsDir,
          home: (options.env ?? process.env).HOME ?? os.homedir(),
          project: cwd,
          ignore: resolved.reportIgnore,
          forwards: resolved.forwards,
          network: resolved.network
        }
    return { options: resolved, plan, config, init, launch: launch.launch, scratch: sandboxScratch, cgroup, report }
  } catch (error) {
    safely(() => removeSandboxScratch(sandboxScratch))
    if (error instanceof PlanError) throw new SandboxError('NSB_INVALID_OPTION', error.message)
    throw error
  }
}

let sandboxCount = 0
let identityNoted = false

function startRun (resolved: ResolvedOptions): void {
  installExitHook(resolved.scratchDir)
  const tools = launchTools()
  const cgroupRoots = (): string[] => parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8')).map((mount) => mount.mountPoint)
  startReaper(tools.sh, runDirectory(resolved.scratchDir), runDirName(process.getuid?.() ?? 0, currentRunId()), cgroupRoots)
}

/**
 * Start a sandbox. Resolves once the launcher is spawned; `ready` and `result` tell the rest.
 * The launcher is spawned first and the rest prepared while it starts: its init reads the
 * configuration ~4 ms later (and rarely waits for it: 0.2 ms, median), on the status pipe,
 * which the host writes and closes.
 */
export async function spawnSandbox (options: SpawnSandboxOptions): Promise<Sandbox> {
  const launch = await planLaunch(options)
  startRun(launch.resolved)
  if (launch.launch.identityNote !== undefined && !identityNoted) {
    identityNoted = true
    process.emitWarning(launch.launch.identityNote, { code: 'NSB_IDENTITY_ROOT' })
  }
  const forwarder = launch.resolved.forwards.length > 0 ? new HostForwarder(launch.resolved.forwards) : undefined
  const child = spawn(launch.launch.file, launch.launch.args, {
    cwd: launch.cwd,
    env: launch.chainEnv.env,
    stdio: stdioOf(options, hasChannel(options, launch.resolved)),
    serialization: options.serialization ?? 'json'
  })
  const statusPipe = (child.stdio as ChildProcess['stdio'] | null)?.[launch.statusFd] as Writable | null | undefined
  if (statusPipe == null) {
    // Node sets up no stdio when the spawn itself failed for want of fds (EMFILE, ENFILE).
    const [error] = await once(child, 'error') as [Error]
    void forwarder?.close()
    throw new SandboxError('NSB_SETUP_FAILED', `cannot start the launcher: ${error.message}`)
  }
  let prepared: PreparedRun
  try {
    prepared = prepareRun(options, launch, (resolved) => {
      if (sandboxCount === 0) safely(() => removeStaleCgroups(isRunAlive))
      return createSandboxCgroup(currentRunId(), String(++sandboxCount), {
        memoryBytes: resolved.memoryBytes, pids: resolved.pids, cpus: resolved.cpus
      }, resolved.root || process.getuid?.() !== 0)
    })
  } catch (error) {
    // Nothing ran yet: the init is still starting, or never will (spawn failed).
    child.on('error', () => {})
    statusPipe.destroy()
    child.kill('SIGKILL')
    void forwarder?.close()
    throw error
  }
  // A launcher that failed early has closed its end (EPIPE here); its exit tells why.
  statusPipe.on('error', () => {})
  const configuration = Buffer.concat([encodeInitConfig(prepared.init), encodeBootstrapConfig(prepared.config)])
  if (options.resettable === true) statusPipe.write(configuration)
  else statusPipe.end(configuration)
  const sandbox = new Sandbox(child, prepared.options, prepared.scratch, prepared.cgroup, launch.statusFd,
    { report: prepared.report, forwarder, ...(options.resettable === true ? { commands: statusPipe } : {}) })
  live.add(sandbox)
  return sandbox
}

/** The mount plan and launch command a sandbox would use, without starting it (`--dry-run`). */
export async function planSandbox (options: SpawnSandboxOptions): Promise<PreparedSandbox> {
  const noCgroup: SandboxCgroup = {
    procsFiles: [], limits: {}, readUsage: () => ({ oomKills: 0, pidsLimitHits: 0 }), kill: () => {}, remove: async () => {}
  }
  const launch = await planLaunch(options)
  const prepared = prepareRun(options, launch, () => noCgroup)
  removeSandboxScratch(prepared.scratch)
  return { options: prepared.options, plan: prepared.plan, config: prepared.config, init: prepared.init, launch: prepared.launch }
}

/** Run to completion: the convenience most callers want. */
export async function runSandbox (options: SpawnSandboxOptions): Promise<SandboxResult> {
  const sandbox = await spawnSandbox(options)
  return await sandbox.result
}
