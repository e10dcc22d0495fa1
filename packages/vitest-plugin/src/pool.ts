/**
 * The pool itself, a Vitest `PoolRunnerInitializer`: what the plugin puts in
 * `test.pool`, and what a project can set on its own to get other sandbox options:
 *
 *   projects: [{ extends: true, test: { name: 'heavy', pool: sandboxPool({ memory: '2GiB' }) } }]
 */
import type { RunReportOption, SandboxOptions } from '@ns-sandbox/core'
import type { PoolRunnerInitializer } from 'vitest/node'
import { splitOptions, validateOptions, type NsSandboxOptions } from './options.js'
import { POOL_NAME } from './names.js'
import { SandboxPoolWorker } from './pool-worker.js'

export { POOL_NAME }

export interface SandboxPool extends PoolRunnerInitializer {
  /** Core's options every sandbox of this pool gets (validated). */
  readonly sandboxOptions: SandboxOptions
  /** The plugin's `report` option (the run report; `sandboxOptions.report` is core's). */
  readonly report: RunReportOption
}

export function sandboxPool (options: NsSandboxOptions = {}, where = 'sandboxPool()'): SandboxPool {
  validateOptions(options, where)
  const settings = { name: POOL_NAME, ...splitOptions(options) }
  return {
    name: POOL_NAME,
    sandboxOptions: settings.sandbox,
    report: settings.report,
    createPoolWorker: (poolOptions) => new SandboxPoolWorker(poolOptions, settings)
  }
}

export function isSandboxPool (value: unknown): value is SandboxPool {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Partial<SandboxPool>
  return candidate.name === POOL_NAME && typeof candidate.createPoolWorker === 'function' && typeof candidate.sandboxOptions === 'object'
}
