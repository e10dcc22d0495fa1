/**
 * The Vite plugin users add: `plugins: [nsSandbox({ memory: '512MiB' })]`.
 *
 * - `config` (enforce and order `pre`) sets `test.pool` to the sandbox pool before
 *   Vitest 5 copies the raw test config for inline projects, so they inherit it; inline
 *   projects that would not inherit it get the plugin too, and a config that lists
 *   project config files gets the global setup that checks them (projects.ts).
 * - `configureVitest` runs for every project with the plugin: it stops the run when
 *   any project would run outside a sandbox (project-check.ts), refuses a project with
 *   another pool, and waits for the preflight sandbox (started by `config`) to prove
 *   that this machine can make the project's sandboxes, before any test file is
 *   scheduled. A project with `report` gets the run report's reporter added.
 */
import type {} from 'vitest/config' // its declaration adds `configureVitest` to Vite's Plugin type
import type { TestProject, Vite, Vitest } from 'vitest/node'
import { NsSandboxConfigError, type NsSandboxOptions } from './options.js'
import { PLUGIN_NAME } from './names.js'
import { isSandboxPool, sandboxPool, type SandboxPool } from './pool.js'
import { assertCanSandbox, startProbe } from './preflight.js'
import { assertNoUnsandboxed } from './project-check.js'
import { carryToProjects, GUARD_SETUP, inlineProjectsInherit, listsProjectFiles } from './projects.js'
import { attachRunReport } from './run-report.js'

interface TestConfig { pool?: unknown, projects?: unknown, globalSetup?: string | string[] }

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

/** The plugin with `pool`: the one users add, and the one inline projects get from it. */
function pluginWith (pool: SandboxPool): Vite.Plugin {
  return {
    name: PLUGIN_NAME,
    enforce: 'pre',
    config: {
      order: 'pre',
      handler (config) {
        const test = ((config as { test?: TestConfig }).test ??= {})
        if (!isSandboxPool(test.pool)) {
          if (test.pool !== undefined && test.pool !== 'forks') {
            console.warn(`[ns-sandbox] test.pool '${typeof test.pool === 'string' ? test.pool : 'custom'}' is replaced: every test file runs in Vitest's forks worker inside its own sandbox`)
          }
          test.pool = pool
          // overlaps Vitest's startup; awaited in configureVitest (not under plain `vite`)
          if (process.env.VITEST !== undefined) void startProbe(pool.sandboxOptions)
        }
        const projects = test.projects
        if (Array.isArray(projects)) {
          test.projects = carryToProjects(projects, () => pluginWith(pool), inlineProjectsInherit(config.plugins))
          const setups = test.globalSetup === undefined ? [] : [test.globalSetup].flat()
          if (listsProjectFiles(projects) && !setups.includes(GUARD_SETUP)) test.globalSetup = [GUARD_SETUP, ...setups]
        }
      }
    },
    async configureVitest ({ project, vitest }) {
      assertNoUnsandboxed(vitest.projects, vitest.config.root)
      await checkProject(project, vitest)
    }
  }
}

export function nsSandbox (options: NsSandboxOptions = {}): Vite.Plugin {
  return pluginWith(sandboxPool(options, 'nsSandbox()'))
}
