/**
 * Runs planned files on N lanes (Jest's maxWorkers; one with --runInBand).
 *
 * isolation 'file': every file gets a fresh sandbox. While a lane's file runs, the
 * sandbox for an upcoming file is already starting and loading Jest, so a lane
 * rarely waits for Node and Jest to boot. Its result is reported once the sandbox
 * has ended (that is when the kernel's verdict, e.g. an OOM kill, is known), while
 * the lane already runs its next file.
 *
 * isolation 'worker': a lane keeps one sandbox and runs file after file in it,
 * preferring files that share its options; a sandbox that dies is replaced.
 *
 * isolation 'state': as 'worker', and the sandbox's state is reset between files (core's
 * reset(), started as soon as a file is done, so it overlaps the report). A sandbox whose
 * reset fails runs no further file.
 *
 * In a lane's sandbox with a memory or pids limit, a failed file ends the sandbox, so that
 * its failure can say whether the kernel refused or killed something (known at the end).
 */
import os from 'node:os'
import type { Plan } from './plan'
import type { HostMessage, TestEventName } from './protocol'
import type { Done, RunOutcome, SandboxChild, SandboxEnd } from './sandbox-child'

export interface LaneHooks {
  /**
   * Start a sandbox for this plan (file isolation) or for plans of its key (worker
   * isolation). `ahead`: it is started before it is needed, so it may warm up.
   */
  spawn: (plan: Plan, ahead: boolean) => Promise<SandboxChild>
  runMessage: (plan: Plan, lane: number, child: SandboxChild) => Extract<HostMessage, { type: 'run' }>
  fileStarted: (plan: Plan) => Promise<void>
  event: (name: TestEventName, args: unknown[]) => void
  report: (plan: Plan, outcome: RunOutcome, end: SandboxEnd | undefined, child: SandboxChild | undefined) => Promise<void>
  reportStartFailure: (plan: Plan, error: unknown) => Promise<void>
  /** A lane's sandbox (isolation 'state' or 'worker') ended after its last file. */
  retired: (end: SandboxEnd, child: SandboxChild) => void
  isInterrupted: () => boolean
}

export class Lanes {
  private readonly queue: Plan[]
  private readonly warm = new Map<Plan, Promise<SandboxChild>>()
  private readonly running = new Set<SandboxChild>()
  private readonly finishing: Array<Promise<void>> = []

  /** How many upcoming files get a sandbox started ahead. */
  private readonly ahead: number

  constructor (plans: readonly Plan[], private readonly count: number, private readonly hooks: LaneHooks) {
    this.queue = [...plans]
    // Starting a sandbox is mostly CPU (Node, then Jest and the transforms): keep the
    // cores the lanes leave idle busy with it, but never more than two per lane.
    this.ahead = Math.min(2 * count, Math.max(count, os.availableParallelism()))
  }

  async run (): Promise<void> {
    try {
      await Promise.all(Array.from({ length: this.count }, async (_, index) => { await this.lane(index + 1) }))
      await Promise.all(this.finishing)
    } finally {
      for (const pending of this.warm.values()) void pending.then((child) => { child.destroy() }, () => {})
      this.warm.clear()
    }
  }

  /** Watch mode interrupted the run: end every sandbox now. */
  interrupt (): void {
    for (const child of this.running) child.destroy()
    for (const pending of this.warm.values()) void pending.then((child) => { child.destroy() }, () => {})
    this.warm.clear()
  }

  private async lane (lane: number): Promise<void> {
    let worker: { key: string, child: SandboxChild } | undefined
    try {
      for (;;) {
        if (this.hooks.isInterrupted()) return
        const plan = this.next(worker?.key)
        if (plan === undefined) return
        await this.hooks.fileStarted(plan)
        if (plan.error !== undefined) {
          await this.hooks.report(plan, { done: { type: 'done', testPath: plan.test.path, error: plan.error } }, undefined, undefined)
        } else if (plan.isolation === 'file') {
          await this.runFile(plan, lane)
        } else {
          if (worker !== undefined && (worker.key !== plan.key || worker.child.hasEnded || !await worker.child.fresh())) {
            this.retire(worker.child)
            worker = undefined
          }
          if (worker === undefined) {
            const child = await this.start(plan, this.hooks.spawn(plan, false))
            if (child === undefined) continue
            worker = { key: plan.key, child }
          }
          const outcome = await worker.child.run(this.hooks.runMessage(plan, lane, worker.child), this.hooks.event)
          if (outcome.done !== undefined && failed(outcome.done) && hasLimits(plan)) {
            const child = worker.child
            worker = undefined
            child.finish()
            this.finishing.push((async () => {
              const end = await child.end()
              this.running.delete(child)
              await this.hooks.report(plan, outcome, end, child)
            })())
          } else if (outcome.done !== undefined) {
            // Only when another file may come: the last one's sandbox just ends.
            if (this.queue.some((next) => next.key === plan.key)) worker.child.reset()
            await this.hooks.report(plan, outcome, undefined, worker.child)
          } else {
            const child = worker.child
            worker = undefined
            this.running.delete(child)
            await this.hooks.report(plan, outcome, await child.ended, child)
          }
        }
      }
    } finally {
      if (worker !== undefined) this.retire(worker.child)
    }
  }

  private async runFile (plan: Plan, lane: number): Promise<void> {
    const pending = this.warm.get(plan) ?? this.hooks.spawn(plan, false)
    this.warm.delete(plan)
    this.prewarm()
    const child = await this.start(plan, pending)
    if (child === undefined) return
    const outcome = await child.run(this.hooks.runMessage(plan, lane, child), this.hooks.event)
    this.finishing.push((async () => {
      const end = await child.end()
      this.running.delete(child)
      await this.hooks.report(plan, outcome, end, child)
    })())
  }

  private async start (plan: Plan, pending: Promise<SandboxChild>): Promise<SandboxChild | undefined> {
    try {
      const child = await pending
      this.running.add(child)
      return child
    } catch (error) {
      await this.hooks.reportStartFailure(plan, error)
      return undefined
    }
  }

  private retire (child: SandboxChild): void {
    child.finish()
    this.finishing.push(child.end().then((end) => {
      this.running.delete(child)
      this.hooks.retired(end, child)
    }))
  }

  /** Start sandboxes for the next files (not for files with a wall-clock limit: it would tick while waiting). */
  private prewarm (): void {
    let ahead = 0
    for (const plan of this.queue) {
      if (ahead >= this.ahead) break
      if (plan.isolation !== 'file' || plan.error !== undefined) continue
      ahead++
      if (plan.options.resolved.timeoutMs !== undefined || this.warm.has(plan)) continue
      const pending = this.hooks.spawn(plan, true)
      pending.catch(() => { /* reported when the plan is taken */ })
      this.warm.set(plan, pending)
    }
  }

  /** The next plan: for a worker lane, one its sandbox can run; else the queue's head. */
  private next (key: string | undefined): Plan | undefined {
    let index = key === undefined ? -1 : this.queue.findIndex((plan) => plan.isolation !== 'file' && plan.key === key)
    if (index < 0) index = 0
    return this.queue.splice(index, 1)[0]
  }
}

function failed (done: Done): boolean {
  const result = done.result as { numFailingTests?: number, testExecError?: unknown } | undefined
  return done.error !== undefined || (result?.numFailingTests ?? 0) > 0 || result?.testExecError != null
}

/** The kernel's verdict on these limits comes with the sandbox's end. */
function hasLimits (plan: Plan): boolean {
  return plan.options.resolved.memoryBytes !== undefined || plan.options.resolved.pids !== undefined
}
