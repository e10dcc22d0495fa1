/**
 * The check that no project of a run would run its test files outside a sandbox, once
 * Vitest has resolved the projects. A project with the plugin is checked by its own
 * `configureVitest` (plugin.ts); this finds the projects without it and without a
 * sandbox pool, which come from a config file or a directory (projects.ts gives the
 * plugin to inline ones). Loaded by Vite's module runner too (project-guard.ts), so it
 * depends on nothing but names and the error.
 */
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { NsSandboxConfigError } from './errors.js'
import { PLUGIN_NAME, POOL_NAME } from './names.js'

/** Vite's plugin options flattened (nested arrays, `false`/`null` entries; promises are not looked into). */
export function flatPlugins (plugins: unknown): Array<{ name?: unknown }> {
  if (Array.isArray(plugins)) return plugins.flatMap(flatPlugins)
  return typeof plugins === 'object' && plugins !== null && !('then' in plugins) ? [plugins] : []
}

export function hasPlugin (plugins: unknown): boolean {
  return flatPlugins(plugins).some((plugin) => plugin.name === PLUGIN_NAME)
}

function describeProject (project: TestProject, root: string): string {
  const configFile = project.vite.config.configFile
  const where = configFile !== undefined ? path.relative(root, configFile) || configFile : `directory ${path.relative(root, project.config.root) || '.'}`
  return `project "${project.name}" (${where})`
}

/** Throws NsSandboxConfigError naming every project whose test files would run outside a sandbox. */
export function assertNoUnsandboxed (projects: readonly TestProject[], root: string): void {
  const outside = projects.filter((project) => {
    if (project.config.browser?.enabled === true) return false // runs in a browser, not in a Node worker
    return project.config.pool !== POOL_NAME && !hasPlugin(project.vite.config.plugins)
  })
  if (outside.length === 0) return
  const one = outside.length === 1
  throw new NsSandboxConfigError(`${outside.map((project) => describeProject(project, root)).join(', ')} ` +
    `${one ? 'has' : 'have'} no ns-sandbox plugin, so ${one ? 'its' : 'their'} test files would run outside a sandbox; no test file was run. ` +
    'A project from a config file or a directory does not inherit the plugins of the config that lists it: ' +
    'add `plugins: [nsSandbox()]` to its config (a directory needs a vitest.config.js), or declare it inline in `test.projects`.')
}
