/**
 * Where a sandboxed test file's time goes, for the benchmark: set
 * NS_SANDBOX_VITEST_TIMINGS=<file> and every sandbox appends one JSON line. Off (and
 * free) otherwise.
 */
import fs from 'node:fs'

export interface SandboxTimings {
  files: string[]
  /** The sandbox was pre-spawned while an earlier file ran (spawn and ready then cost this file nothing). */
  prespawned?: boolean
  /** Live paths computed, options prepared, launcher spawned (host side). */
  spawnMs?: number
  /** From the spawn to the bootstrap's `ready` (namespaces, cgroups, mounts). */
  readyMs?: number
  /** The bootstrap's own measure of its setup. */
  setupMs?: number
  setupPhases?: Record<string, number>
  /** From `ready` to the Vitest worker's `started` answer (Node + worker module + environment). */
  workerStartMs?: number
  /** From `started` to `testfileFinished` (the test file itself). */
  runMs?: number
  /** From the first request to the sandbox's removal. */
  totalMs?: number
}

const target = process.env.NS_SANDBOX_VITEST_TIMINGS

export class Stopwatch {
  private readonly origin = performance.now()
  private last = this.origin
  readonly record: SandboxTimings

  constructor (files: string[]) {
    this.record = { files }
  }

  /** Milliseconds since the previous lap. */
  lap (): number {
    const now = performance.now()
    const ms = Math.round((now - this.last) * 10) / 10
    this.last = now
    return ms
  }

  finish (): void {
    if (target === undefined || target === '') return
    this.record.totalMs = Math.round((performance.now() - this.origin) * 10) / 10
    try {
      fs.appendFileSync(target, JSON.stringify(this.record) + '\n')
    } catch {
      // measuring must never fail a run
    }
  }
}
