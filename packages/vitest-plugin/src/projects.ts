/**
 * `test.projects` of a config with the plugin: no project may run outside a sandbox.
 *
 * - An inline project (object, function or promise) that does not inherit the
 *   declaring config's plugins gets the plugin added, with the declaring config's pool:
 *   it is sandboxed with the same options and checked like any project with the plugin.
 *   Vitest 4 inherits only with `extends: true`; Vitest 5 unless `extends` is `false`
 *   or a config file (an inheriting one would get the plugin twice, and a Vite server
 *   of its own).
 * - A project from a config file or a directory is resolved from that file alone, as
 *   for every Vite plugin, so it cannot be given the plugin from here. Without one of
 *   its own, the run stops before any test file, naming it (project-check.ts): from
 *   `configureVitest`, and from a global setup added here (project-guard.ts), since
 *   that hook only runs for projects that have the plugin.
 */
import { fileURLToPath } from 'node:url'
import type { Vite } from 'vitest/node'
import { flatPlugins, hasPlugin } from './project-check.js'

/** The global setup that runs the check (project-guard.ts). */
export const GUARD_SETUP = fileURLToPath(new URL('./project-guard.js', import.meta.url))

interface InlineProject { extends?: unknown, plugins?: unknown[] }

/** Vitest 5 resolves inline projects from the declaring config's raw test options, captured by a plugin of its own. */
export function inlineProjectsInherit (configPlugins: unknown): boolean {
  return flatPlugins(configPlugins).some((plugin) => plugin.name === 'vitest:capture-raw-test-config')
}

function withPlugin (project: unknown, makePlugin: () => Vite.Plugin, inheritByDefault: boolean): unknown {
  if (typeof project !== 'object' || project === null) return project
  const inline = project as InlineProject
  const inherits = inline.extends === true || (inline.extends === undefined && inheritByDefault)
  if (inherits || hasPlugin(inline.plugins)) return project
  return { ...inline, plugins: [...(inline.plugins ?? []), makePlugin()] }
}

/** `test.projects` with a plugin from `makePlugin` added to every inline project that would not inherit one. */
export function carryToProjects (projects: readonly unknown[], makePlugin: () => Vite.Plugin, inheritByDefault: boolean): unknown[] {
  return projects.map((project) => {
    if (typeof project === 'string') return project
    if (typeof project === 'function') {
      return async (...args: unknown[]) => withPlugin(await (project as (...a: unknown[]) => unknown)(...args), makePlugin, inheritByDefault)
    }
    if (typeof project === 'object' && project !== null && 'then' in project) {
      return Promise.resolve(project).then((config) => withPlugin(config, makePlugin, inheritByDefault))
    }
    return withPlugin(project, makePlugin, inheritByDefault)
  })
}

/** Whether `test.projects` lists config files or directories (which the check must cover). */
export function listsProjectFiles (projects: readonly unknown[]): boolean {
  return projects.some((project) => typeof project === 'string')
}
