/**
 * Pre-spawned sandboxes. Starting a sandbox and Vitest's worker module in it takes as
 * long as the test file of a light suite, and Vitest's forks pool pays the worker
 * start serially for each file. So while a file runs, the next sandbox (with the
 * worker already loaded, waiting for `start`) is started, and the next file takes it.
 *
 * A warm sandbox is fresh: nothing ran in it but Vitest's worker module. It is only
 * taken when it was started for the same project, options, env and execArgv, and its
 * live paths cover the file's (see live-paths.ts: all of the project's snapshot
 * directories, never a test file); otherwise the file gets a sandbox of its own, as
 * without pre-spawning. Idle ones end after a few seconds, and all end when Vitest
 * closes.
 */
import type { Sandbox } from '@ns-sandbox/core'
import type { LivePaths } from './live-paths.js'

export interface Warm {
  sandbox: Sandbox
  live: LivePaths
}

interface Slot {
  pending: Promise<Warm | undefined>
  ended: boolean
}

/** An idle sandbox older than this is ended, so watch mode keeps none around. */
const MAX_IDLE_MS = 10_000

export class WarmPool {
  private readonly slots = new Map<string, Slot[]>()
  /** Keys whose pre-spawned sandboxes were taken: a run of several files, worth more in waiting. */
  private readonly taken = new Set<string>()
  private closed = false

  private list (key: string): Slot[] {
    let list = this.slots.get(key)
    if (list === undefined) {
      list = []
      this.slots.set(key, list)
    }
    return list
  }

  private remove (key: string, slot: Slot): boolean {
    const list = this.slots.get(key) ?? []
    const index = list.indexOf(slot)
    if (index === -1) return false
    list.splice(index, 1)
    return true
  }

  /**
   * Start a sandbox for `key` unless enough are waiting: one until one was taken (a
   * run of one file wastes at most one), then `capacity`.
   */
  prepare (key: string, capacity: number, make: () => Promise<Warm | undefined>): void {
    if (this.closed || this.list(key).length >= (this.taken.has(key) ? capacity : 1)) return
    const slot: Slot = { pending: make().catch(() => undefined), ended: false }
    this.list(key).push(slot)
    void slot.pending.then((warm) => {
      const forget = (): void => {
        slot.ended = true
        this.remove(key, slot)
      }
      if (warm === undefined) return forget()
      const idle = setTimeout(() => {
        if (this.remove(key, slot)) warm.sandbox.destroy()
      }, MAX_IDLE_MS)
      idle.unref()
      void warm.sandbox.result.catch(() => undefined).then(() => {
        clearTimeout(idle)
        warm.live.release()
        forget()
      })
    })
  }

  /** A warm sandbox for `key` that covers `livePaths` (it is then the caller's), else undefined. */
  async take (key: string, livePaths: readonly string[]): Promise<Warm | undefined> {
    for (const slot of [...this.list(key)]) {
      if (!this.remove(key, slot)) continue // taken meanwhile
      const warm = await slot.pending
      if (warm === undefined || slot.ended) continue
      const covered = new Set(warm.live.writable)
      if (livePaths.every((live) => covered.has(live))) {
        this.taken.add(key)
        return warm
      }
      this.list(key).push(slot) // for a later file; it expires when idle
    }
    return undefined
  }

  async close (): Promise<void> {
    this.closed = true
    const slots = [...this.slots.values()].flat()
    this.slots.clear()
    await Promise.all(slots.map(async (slot) => {
      const warm = await slot.pending
      if (warm === undefined) return
      warm.sandbox.destroy()
      await warm.sandbox.result.catch(() => undefined)
    }))
  }
}

const pools = new WeakMap<object, WarmPool>()

/** One pool per Vitest instance, ended with it. */
export function warmPoolOf (vitest: { onClose: (fn: () => Promise<void>) => void }): WarmPool {
  let pool = pools.get(vitest)
  if (pool === undefined) {
    const created = new WarmPool()
    vitest.onClose(() => created.close())
    pools.set(vitest, created)
    pool = created
  }
  return pool
}
