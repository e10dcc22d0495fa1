/**
 * A global setup the plugin adds to a config whose `test.projects` lists config files
 * or directories: `configureVitest` runs only for projects that have the plugin, so
 * when none has it, this is where the check runs. Vitest runs global setups before
 * any test file.
 */
import type { TestProject } from 'vitest/node'
import { assertNoUnsandboxed } from './project-check.js'

export function setup (project: TestProject): void {
  assertNoUnsandboxed(project.vitest.projects, project.vitest.config.root)
}
