/**
 * A Vitest PoolWorker whose process is Vitest's own forks worker
 * (`<distPath>/workers/forks.js`, same execArgv, env, IPC with `advanced`
 * serialization, piped stdout/stderr), started inside a sandbox.
 *
 * Which live paths a sandbox needs depends on its test files, and Vitest names them
 * only in the first `run`/`collect` request, after `start`. So the sandbox is taken
 * (launcher.ts: pre-spawned or new) with that request: the `start` request is held
 * (and answered `started` for the worker), then replayed to the sandboxed worker,
 * whose own `started` answer is consumed here; requests that arrive in between are
 * queued and forwarded once the worker has started. A worker that never got a file
 * ends without a sandbox.
 */
import { EventEmitter } from 'node:events'
import type { RunReportOption, Sandbox, SandboxResult } from '@ns-sandbox/core'
import type { PoolOptions, PoolWorker, WorkerRequest } from 'vitest/node'
import { failFiles } from './file-results.js'
import { Launcher, type PoolSettings } from './launcher.js'
import type { LivePaths } from './live-paths.js'
import { endForReport, trackSandbox } from './run-report.js'
import { SandboxImports } from './sandbox-imports.js'
import { fromResult, fromStartFailure, type Termination } from './termination.js'
import { Stopwatch } from './timings.js'
import { filesOf, isResponse, requestType, response, toError } from './worker-messages.js'

export type { PoolSettings } from './launcher.js'

type Phase = 'idle' | 'launching' | 'running' | 'ended'

export class SandboxPoolWorker implements PoolWorker {
  readonly name: string
  /**
   * Vitest's forks pool passes transformed modules as files in the main process's
   * temp directory; a sandbox has its own /tmp, so modules travel over IPC instead
   * (as for the threads pool).
   */
  readonly cacheFs = false
  private readonly events = new EventEmitter()
  private readonly launcher: Launcher
  private phase: Phase = 'idle'
  private stopping = false
  private startRequest: WorkerRequest | undefined
  private readonly pending: WorkerRequest[] = []
  private files: string[] = []
  /** Every file this worker was given (with `isolate: false`, run after run), for the run report. */
  private readonly allFiles = new Set<string>()
  private readonly reportOption: RunReportOption
  private sandbox: Sandbox | undefined
  /** The sandbox has ended and been removed (or never started). */
  private gone = false
  private live: LivePaths | undefined
  private launched: Promise<void> = Promise.resolve()
  private ended: Promise<void> = Promise.resolve()
  private watch: Stopwatch | undefined
  private unpipe: () => void = () => {}
  /** Modules only the sandbox has are imported inside it (sandbox-imports.ts). */
  private readonly imports = new SandboxImports()

  constructor (private readonly options: PoolOptions, settings: PoolSettings) {
    this.name = settings.name
    this.launcher = new Launcher(options, settings)
    this.reportOption = settings.report
  }

  on (event: string, callback: (...args: any[]) => void): void { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.events.on(event, callback)
  }

  off (event: string, callback: (...args: any[]) => void): void { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.events.off(event, callback)
  }

  deserialize (data: unknown): unknown {
    return data
  }

  /** Nothing to start yet: the sandbox starts with the first test file (see above). */
  async start (): Promise<void> {}

  send (message: WorkerRequest): void {
    const type = requestType(message)
    if (type === 'run' || type === 'collect') {
      this.files = filesOf(message)
      for (const file of this.files) this.allFiles.add(file)
    }
    switch (this.phase) {
      case 'idle':
        if (type === 'start') {
          this.startRequest = message
          process.nextTick(() => this.events.emit('message', response('started')))
        } else if (type === 'stop') {
          process.nextTick(() => this.events.emit('message', response('stopped')))
        } else {
          this.pending.push(message)
          if (type === 'run' || type === 'collect') {
            this.phase = 'launching'
            this.launched = this.launch()
          }
        }
        return
      case 'launching':
        this.pending.push(message)
        return
      case 'running':
        this.forward(message)
        return
      case 'ended':
        // the end was reported; Vitest's own workers drop late messages the same way
    }
  }

  async stop (): Promise<void> {
    this.stopping = true
    await this.launched
    // Vitest stops a worker after it answered `stopped` (its teardown is done) or,
    // with `force`, when it will not wait for it: either way what is left is ended
    // at once, the sandbox with everything its test file started (with a run report,
    // after a SIGTERM's grace: run-report.ts).
    if (this.sandbox !== undefined && !this.gone) {
      if (this.reportOption === false) this.sandbox.destroy()
      else endForReport(this.sandbox)
    }
    await this.ended
  }

  private async launch (): Promise<void> {
    const watch = new Stopwatch(this.files)
    this.watch = watch
    let sandbox: Sandbox
    try {
      const opened = await this.launcher.open(this.files)
      sandbox = opened.sandbox
      this.live = opened.live
      watch.record.prespawned = opened.prespawned
    } catch (error) {
      this.finish(undefined)
      if (!this.stopping) this.report(fromStartFailure(error, this.files))
      return
    }
    watch.record.spawnMs = watch.lap()
    if (!this.stopping) this.launcher.prepareNext() // overlaps this file's start and run
    this.sandbox = sandbox
    trackSandbox(this.options.project, this.reportOption, sandbox, () => [...this.allFiles])
    this.pipeOutput(sandbox)
    sandbox.on('message', (message: unknown) => this.onWorkerMessage(message))
    sandbox.ready.then(() => { watch.record.readyMs = watch.lap() }, () => {})
    this.ended = sandbox.result.then(
      (result) => {
        this.finish(result)
        if (!this.stopping) this.report(fromResult(result, this.files))
      },
      (error: unknown) => {
        this.finish(undefined)
        if (!this.stopping) this.report(fromStartFailure(error, this.files))
      })
    if (this.stopping) {
      sandbox.destroy()
      return
    }
    if (this.startRequest !== undefined) this.forward(this.startRequest)
  }

  private onWorkerMessage (message: unknown): void {
    if (this.phase === 'launching' && isResponse(message, 'started')) {
      if (this.watch !== undefined) this.watch.record.workerStartMs = this.watch.lap()
      if (message.error !== undefined) {
        this.phase = 'ended'
        this.report({ kind: 'error', error: toError(message.error, '[ns-sandbox] the Vitest worker failed to start in its sandbox: ') })
        return
      }
      this.phase = 'running'
      for (const queued of this.pending.splice(0)) this.forward(queued)
      return
    }
    this.imports.noteRequest(message)
    if (isResponse(message, 'testfileFinished') && this.watch !== undefined && this.watch.record.runMs === undefined) {
      this.watch.record.runMs = this.watch.lap()
    }
    this.events.emit('message', message)
  }

  private forward (message: WorkerRequest): void {
    const sandbox = this.sandbox
    if (sandbox === undefined) return
    sandbox.send(this.imports.rewrite(message) as Parameters<Sandbox['send']>[0], undefined, (error) => {
      if (error === null || this.stopping) return
      // A write into a dying worker fails before its exit is seen; the exit reports it.
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EPIPE' || code === 'ERR_IPC_CHANNEL_CLOSED') return
      this.report({ kind: 'error', error })
    })
  }

  private pipeOutput (sandbox: Sandbox): void {
    const { outputStream, errorStream } = this.options.project.vitest.logger
    const pairs = [[sandbox.child.stdout, outputStream], [sandbox.child.stderr, errorStream]] as const
    for (const [from, to] of pairs) {
      if (from === null) continue
      to.setMaxListeners(to.getMaxListeners() + 1)
      from.pipe(to, { end: false })
    }
    this.unpipe = () => {
      for (const [from, to] of pairs) {
        if (from === null) continue
        from.unpipe(to)
        to.setMaxListeners(Math.max(0, to.getMaxListeners() - 1))
      }
      this.unpipe = () => {}
    }
  }

  /** The sandbox is gone (or never came): release its live paths, record its timings. */
  private finish (result: SandboxResult | undefined): void {
    this.phase = 'ended'
    this.gone = true
    this.pending.length = 0
    this.unpipe()
    this.live?.release()
    if (this.watch !== undefined) {
      this.watch.record.setupMs = result?.setupMs
      this.watch.record.setupPhases = result?.setupPhases
      this.watch.finish()
    }
  }

  /** Tell Vitest, like its forks pool does: `exit` for a crash, `error` for the rest. */
  private report (termination: Termination): void {
    if (termination.kind === 'error' && termination.limit !== undefined) failFiles(this.options.project, this.files, termination.limit)
    try {
      if (termination.kind === 'exit') {
        this.events.emit('exit', termination.code, termination.signal)
      } else if (this.events.listenerCount('error') > 0) {
        this.events.emit('error', termination.error)
      } else {
        this.options.project.vitest.logger.error(termination.error)
      }
    } catch (error) {
      // No task is listening (an idle shared worker): print instead of crashing the run.
      this.options.project.vitest.logger.error(error)
    }
  }
}
