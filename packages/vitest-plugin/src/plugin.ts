/**
 * The Vite plugin users add: `plugins: [nsSandbox({ memory: '512MiB' })]`.
 *
 * - `config` (enforce and order `pre`) sets `test.pool` to the sandbox pool before
 *   Vitest 5 copies the raw test config for inline projects, so they inherit it.
 * - `configureVitest` runs for every project: it refuses a project whose files would
 *   run outside a sandbox, and waits for the preflight sandbox (started by `config`)
 *   to prove that this machine can make the project's sandboxes, before any test
 *   file is scheduled. A project with `report` gets the run report's reporter added.
 */
import type {} from 'vitest/config' // its declaration adds `configureVitest` to Vite's Plugin type
import type { TestProject, Vite, Vitest } from 'vitest/node'
import { NsSandboxConfigError, type NsSandboxOptions } from './options.js'
import { isSandboxPool, sandboxPool } from './pool.js'
import { assertCanSandbox, startProbe } from './preflight.js'
import { attachRunReport } from './run-report.js'

interface TestConfigWithPool { pool?: unknown }

function projectLabel (project: TestProject): string {
  return project.name === '' ? 'the root project' : `project "${project.name}"`
}

async function checkProject (project: TestProject, vitest: Vitest): Promise<void> {
  const config = project.config as TestProject['config'] & { poolRunner?: unknown }
  if (config.browser?.enabled === true) return // runs in a browser, not in a Node worker
  const pool = config.poolRunner
  if (!isSandboxPool(pool)) {
    throw new NsSandboxConfigError(`${projectLabel(project)} uses pool '${String(config.pool)}', so its test files would run outside a sandbox. ` +
      'Remove its `test.pool`, or give it `pool: sandboxPool({ ...options })` from @ns-sandbox/vitest.')
  }
  if (config.isolate === false && pool.sandboxOptions.timeout !== undefined) {
    throw new NsSandboxConfigError(`${projectLabel(project)}: option \`timeout\` needs \`isolate: true\`: with \`isolate: false\` one sandbox runs many files, ` +
      "so a sandbox's wall-clock limit would not be per file (use Vitest's testTimeout instead)")
  }
  if (pool.report !== false) attachRunReport(vitest)
  await assertCanSandbox(pool.sandboxOptions, projectLabel(project))
}

export function nsSandbox (options: NsSandboxOptions = {}): Vite.Plugin {
  const pool = sandboxPool(options, 'nsSandbox()')
  return {
    name: 'ns-sandbox',
    enforce: 'pre',
    config: {
      order: 'pre',
      handler (config) {
        const test = ((config as { test?: TestConfigWithPool }).test ??= {})
        if (isSandboxPool(test.pool)) return
        if (test.pool !== undefined && test.pool !== 'forks') {
          console.warn(`[ns-sandbox] test.pool '${typeof test.pool === 'string' ? test.pool : 'custom'}' is replaced: every test file runs in Vitest's forks worker inside its own sandbox`)
        }
        test.pool = pool
        // overlaps Vitest's startup; awaited in configureVitest (not under plain `vite`)
        if (process.env.VITEST !== undefined) void startProbe(pool.sandboxOptions)
      }
    },
    async configureVitest ({ project, vitest }) {
      await checkProject(project, vitest)
    }
  }
}
