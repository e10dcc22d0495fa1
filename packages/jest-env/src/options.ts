/**
 * Sandbox options for one test file, from three layers (later wins, `writable` and
 * `bind` accumulate):
 *
 *   1. the runner's options: `runner: ['jest-environment-ns-sandbox/runner', {...}]` (Jest >= 30.4.1)
 *   2. the project's `testEnvironmentOptions.sandbox`
 *   3. the file's docblock `@jest-environment-options {"sandbox": {...}}`
 *
 * Keys are core's sandbox options plus `isolation`, and `report` as the runner's
 * (true | 'json': the run report, run-report.ts; core gets `report: true`). Each layer
 * is validated on its own by core, so an error names the layer it came from.
 */
import type { Core } from './core'
import type { Isolation } from './protocol'

type SandboxOptions = import('@ns-sandbox/core').SandboxOptions
type ResolvedOptions = import('@ns-sandbox/core').ResolvedOptions
type RunReportOption = import('@ns-sandbox/core').RunReportOption

export const ISOLATIONS: readonly Isolation[] = ['state', 'file', 'worker']
const ACCUMULATE = new Set(['writable', 'bind'])

export interface OptionLayer {
  /** Where the layer came from, for error messages. */
  where: string
  value: unknown
}

export interface FileOptions {
  isolation: Isolation
  /** The run report this file's sandbox takes part in. */
  report: RunReportOption
  /** Core's options (`report` as core's boolean). */
  sandbox: SandboxOptions
  resolved: ResolvedOptions
}

export class OptionsError extends Error {
  constructor (message: string) {
    super(`jest-environment-ns-sandbox: ${message}`)
    this.name = 'OptionsError'
    // A configuration mistake: where in our code it was noticed does not help.
    this.stack = `${this.name}: ${this.message}`
  }
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) &&
    (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)
}

function describe (error: unknown): string {
  if (typeof error === 'object' && error !== null && 'describe' in error && typeof error.describe === 'function') {
    return String((error as { describe: () => string }).describe())
  }
  return error instanceof Error ? error.message : String(error)
}

function checkLayer (core: Core, layer: OptionLayer): Record<string, unknown> {
  if (layer.value === undefined || layer.value === null) return {}
  if (!isPlainObject(layer.value)) throw new OptionsError(`${layer.where}: expected an object of sandbox options, got ${JSON.stringify(layer.value)}`)
  const { isolation, report, ...sandbox } = layer.value
  const problems: string[] = []
  if (isolation !== undefined && !ISOLATIONS.includes(isolation as Isolation)) {
    problems.push("option `isolation`: expected 'state' (one warm sandbox per runner lane, its state reset between files), " +
      `'file' (one sandbox and process per test file) or 'worker' (one sandbox per runner lane, nothing reset), got ${JSON.stringify(isolation)}`)
  }
  let collect = false
  try {
    collect = core.checkRunReportOption(report) !== false
  } catch (error) {
    problems.push(describe(error))
  }
  try {
    core.resolveOptions({ ...sandbox, report: collect } as SandboxOptions)
  } catch (error) {
    const extra = /unknown option/.test(describe(error)) ? ' (this runner adds: isolation)' : ''
    problems.push(`${describe(error)}${extra}`)
  }
  if (problems.length > 0) throw new OptionsError(`${layer.where}: ${problems.join('; ')}`)
  return layer.value
}

export function mergeLayers (core: Core, layers: readonly OptionLayer[]): FileOptions {
  const merged: Record<string, unknown> = {}
  for (const layer of layers) {
    for (const [key, value] of Object.entries(checkLayer(core, layer))) {
      merged[key] = ACCUMULATE.has(key) && Array.isArray(merged[key]) && Array.isArray(value)
        ? [...(merged[key] as unknown[]), ...value]
        : value
    }
  }
  const { isolation: asked, report = false, ...rest } = merged
  const sandbox = report === false ? rest : { ...rest, report: true }
  const where = layers.map((l) => l.where).join(' + ')
  if (asked === 'worker' && sandbox.timeout !== undefined) {
    throw new OptionsError(`${where}: option \`timeout\` needs isolation 'file': ` +
      "with isolation 'worker' one sandbox runs many files, so a per-sandbox wall-clock limit would not be per file (use Jest's testTimeout, or isolation 'file')")
  }
  let resolved: ResolvedOptions
  try {
    resolved = core.resolveOptions(sandbox as SandboxOptions)
  } catch (error) {
    throw new OptionsError(`${where}: ${describe(error)}`)
  }
  const conflicts = stateConflicts(resolved)
  if (asked === 'state' && conflicts.length > 0) {
    throw new OptionsError(`${where}: isolation 'state' cannot be combined with ${conflicts.join('; nor with ')} (use isolation 'file')`)
  }
  // The default: a warm sandbox reset per file, unless an option needs a fresh one.
  const isolation = (asked ?? (conflicts.length > 0 ? 'file' : 'state')) as Isolation
  return { isolation, report: report as RunReportOption, sandbox: sandbox as SandboxOptions, resolved }
}

/** Options that need a fresh sandbox per file, with why (isolation 'state' refuses them; the default is then 'file'). */
function stateConflicts (resolved: ResolvedOptions): string[] {
  const conflicts: string[] = []
  if (resolved.timeoutMs !== undefined) {
    conflicts.push('option `timeout`: a wall-clock limit is per sandbox, and one warm sandbox runs many files')
  }
  if (resolved.root) {
    conflicts.push('option `root`: resetting keeps a handle on the host\'s tree, which root in the sandbox could reach')
  }
  if (resolved.report) {
    conflicts.push('option `report` (yet): the side-effect report reads a sandbox\'s layers when it ends, and a reset replaces them')
  }
  return conflicts
}

/** Docblock `@jest-environment-options` as Jest reads it (JSON), then its `sandbox` key. */
export function docblockLayer (raw: string | string[] | undefined, testPath: string): OptionLayer | undefined {
  if (raw === undefined) return undefined
  const where = `@jest-environment-options of ${testPath}`
  if (Array.isArray(raw)) throw new OptionsError(`${where}: give the docblock pragma once`)
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (error) {
    throw new OptionsError(`${where}: not valid JSON (${(error as Error).message})`)
  }
  if (!isPlainObject(parsed)) return undefined
  return { where: `${where}, key "sandbox"`, value: parsed.sandbox }
}

/** Project layer: `testEnvironmentOptions.sandbox`. */
export function projectLayer (testEnvironmentOptions: Record<string, unknown> | undefined, project: string): OptionLayer {
  return { where: `testEnvironmentOptions.sandbox of project ${project}`, value: testEnvironmentOptions?.sandbox }
}

/**
 * Sandbox option names given directly in `testEnvironmentOptions` (`{ memory: '1GiB' }`)
 * instead of under its `sandbox` key: the environment ignores them, so the sandbox would
 * silently run without the limit they meant.
 */
export function misplacedOptions (core: Core, testEnvironmentOptions: Record<string, unknown> | undefined): string[] {
  if (!isPlainObject(testEnvironmentOptions)) return []
  const { sandbox: _sandbox, isolation, ...rest } = testEnvironmentOptions
  const names = Object.keys(core.pickSandboxOptions(rest))
  return isolation === undefined ? names : ['isolation', ...names]
}

export function misplacedOptionsWarning (project: string, names: readonly string[]): string {
  const list = names.map((name) => `\`${name}\``).join(', ')
  const [which, them] = names.length === 1 ? ['which is a sandbox option: it is', 'it'] : ['which are sandbox options: they are', 'them']
  return `jest-environment-ns-sandbox: warning: testEnvironmentOptions of project ${project} has ${list}, ` +
    `${which} ignored there and the sandboxes run without ${them}. ` +
    `Put ${them} under testEnvironmentOptions.sandbox, e.g. testEnvironmentOptions: { sandbox: { ${names[0] ?? 'memory'}: ... } }\n`
}

export function runnerLayer (runnerOptions: unknown): OptionLayer {
  return { where: 'the runner options (runner: [path, options])', value: runnerOptions }
}
