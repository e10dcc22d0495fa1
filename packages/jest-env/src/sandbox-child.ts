/**
 * The host's handle on one sandbox running the Jest child: sends it work, collects
 * events and the file's outcome, and knows how the sandbox ended.
 */
import type { Readable } from 'node:stream'
import type { Core } from './core'
import { trace } from './trace'
import { decode, encode, type ChildMessage, type HostMessage, type SerializedError, type TestEventName } from './protocol'

type Sandbox = import('@ns-sandbox/core').Sandbox
type SandboxResult = import('@ns-sandbox/core').SandboxResult
type SpawnSandboxOptions = import('@ns-sandbox/core').SpawnSandboxOptions

/** How the sandbox ended: a result, or the error that kept it from starting. */
export type SandboxEnd = { result: SandboxResult, error?: undefined } | { result?: undefined, error: Error }

export type Done = Extract<ChildMessage, { type: 'done' }>

export interface RunOutcome {
  /** The child's report, unless the sandbox ended first. */
  done?: Done
}

export type EventSink = (name: TestEventName, args: unknown[]) => void

const TAIL_BYTES = 8192
/** After a file's report, how long a single-use child may take to exit before it is killed. */
const EXIT_GRACE_MS = 5000

export class SandboxChild {
  readonly ended: Promise<SandboxEnd>
  hasEnded = false
  /** Project config ids the child has received. */
  readonly projects = new Set<string>()
  /** Milliseconds the child took to load Jest for its project, once warm. */
  warmMs: number | undefined
  private pending: { resolve: (outcome: RunOutcome) => void, sink: EventSink } | undefined
  /** A failure the child reported before any run (its preparation failed). */
  private early: Done | undefined
  private stderrTail = ''
  /** Isolation 'state': a file has run since the sandbox's state was last reset. */
  private dirty = false
  private resetting: Promise<boolean> | undefined
  /** Asked to end (or killed): a reset failing now is expected. */
  private closing = false

  private constructor (readonly sandbox: Sandbox, private readonly label: string, private readonly resettable: boolean) {
    const child = sandbox.child
    void sandbox.ready.then(() => { trace('ready', { file: label }) }, () => {})
    sandbox.on('message', (wire: unknown) => { this.onMessage(decode<ChildMessage>(wire)) })
    this.pipe(child.stdout, process.stdout, false)
    this.pipe(child.stderr, process.stderr, true)
    this.ended = sandbox.result.then(
      (result): SandboxEnd => ({ result }),
      (error: unknown): SandboxEnd => ({ error: error instanceof Error ? error : new Error(String(error)) })
    ).then((end) => {
      trace('ended', { file: label, reason: end.result?.reason, code: end.result?.code, setupMs: end.result?.setupMs })
      this.hasEnded = true
      this.pending?.resolve({})
      this.pending = undefined
      return end
    })
  }

  /** Start the sandbox and send the child its `prepare` message (already encoded). */
  static async start (core: Core, options: SpawnSandboxOptions, label: string, prepareWire: string): Promise<SandboxChild> {
    trace('spawn', { file: label })
    const handle = new SandboxChild(await core.spawnSandbox(options), label, options.resettable === true)
    trace('spawned', { file: label })
    handle.sendWire(prepareWire)
    return handle
  }

  /** Send a file to the child; resolves with its report, or empty when the sandbox ended first. */
  run (message: Extract<HostMessage, { type: 'run' }>, sink: EventSink): Promise<RunOutcome> {
    if (this.early !== undefined) return Promise.resolve({ done: { ...this.early, testPath: message.testPath } })
    if (this.hasEnded) return Promise.resolve({})
    trace('run', { file: message.testPath, lane: message.lane, warm: this.warmMs !== undefined })
    if (this.resettable) this.dirty = true
    return new Promise((resolve) => {
      this.pending = { resolve, sink }
      this.send(message)
    })
  }

  /** The sandbox's end, killing it if it outlives the grace period (a single-use child exits by itself). */
  async end (graceMs = EXIT_GRACE_MS): Promise<SandboxEnd> {
    const timer = setTimeout(() => { this.sandbox.destroy() }, graceMs)
    try {
      return await this.ended
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Isolation 'state': start giving the sandbox a fresh state for the next file. Called
   * as soon as a file is done, so it runs while the file's result is being reported.
   */
  reset (): void {
    if (!this.dirty || this.resetting !== undefined || this.hasEnded) return
    const started = performance.now()
    this.resetting = this.sandbox.reset().then(({ ms, kept, staged }) => {
      trace('reset', { sandbox: this.label, initMs: ms, kept, staged, ms: Math.round(performance.now() - started) })
      return true
    }, (error: unknown) => {
      trace('reset-failed', { sandbox: this.label, error: String(error) })
      if (!this.closing && !this.hasEnded) process.stderr.write(`jest-environment-ns-sandbox: warning: a lane's sandbox could not be reset (${String(error)}); the next file gets a new sandbox\n`)
      return false
    })
  }

  /** Whether the next file may run here: its state is fresh (false: the reset failed, and it must not). */
  async fresh (): Promise<boolean> {
    if (!this.dirty) return true
    this.reset()
    const started = performance.now()
    const ok = await (this.resetting ?? Promise.resolve(false))
    trace('reset-wait', { sandbox: this.label, ms: Math.round(performance.now() - started) })
    this.resetting = undefined
    if (ok) this.dirty = false
    return ok
  }

  /** Ask a reusable child to finish. */
  finish (): void {
    this.closing = true
    if (!this.hasEnded) this.send({ type: 'end' })
  }

  destroy (): void {
    this.closing = true
    this.sandbox.destroy()
  }

  stderr (): string {
    return this.stderrTail
  }

  private send (message: HostMessage): void {
    this.sendWire(encode(message))
  }

  private sendWire (wire: string): void {
    const child = this.sandbox.child
    if (!child.connected) return
    // A failed send means the child is gone: its end tells why.
    child.send(wire, () => {})
  }

  private onMessage (message: ChildMessage | undefined): void {
    if (message === undefined) return
    if (message.type === 'warm') {
      this.warmMs = message.loadMs
      trace('warm', { file: this.label, bootMs: message.bootMs, loadMs: message.loadMs })
    } else if (message.type === 'event') {
      this.pending?.sink(message.name, message.args)
    } else if (message.type === 'done') {
      trace('done', { file: message.testPath, runMs: message.runMs })
      const pending = this.pending
      this.pending = undefined
      if (pending === undefined) this.early = message
      else pending.resolve({ done: message })
    }
  }

  private pipe (from: Readable | null, to: NodeJS.WriteStream, keepTail: boolean): void {
    if (from === null) return
    from.on('data', (chunk: Buffer) => {
      to.write(chunk)
      if (keepTail) this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-TAIL_BYTES)
    })
  }
}

export function failureOf (message: string): SerializedError {
  return { message, stack: '', type: 'Error' }
}
