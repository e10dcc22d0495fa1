/**
 * The plugin's options are core's sandbox options, checked when the config is loaded
 * so that a typo fails the run before any test file is scheduled.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  checkRunReportOption, resolveOptions, SandboxError, type ResolvedOptions, type RunReportOption, type SandboxOptions
} from '@ns-sandbox/core'
import { NsSandboxConfigError } from './errors.js'

export { NsSandboxConfigError }

export interface NsSandboxOptions extends Omit<SandboxOptions, 'report'> {
  /**
   * Start the next file's sandbox while the current file runs (default: true; off
   * when `timeout` is set, since a sandbox's wall clock starts when it is spawned).
   */
  prespawn?: boolean
  /**
   * After each run, `true` prints what the test files changed outside /tmp and left
   * running (worst first) and writes ns-sandbox-report.json in Vitest's root; `'json'`
   * only writes the file. Off by default.
   */
  report?: RunReportOption
}

export interface SplitOptions {
  /** Core's options for every sandbox (`report` as core's boolean). */
  sandbox: SandboxOptions
  prespawn: boolean
  report: RunReportOption
}

/** The plugin's own options apart from core's (validated before). */
export function splitOptions (options: NsSandboxOptions): SplitOptions {
  const { prespawn, report = false, ...rest } = options
  const sandbox: SandboxOptions = report === false ? rest : { ...rest, report: true }
  return { sandbox, prespawn: prespawn !== false && sandbox.timeout === undefined, report }
}

function expandHome (value: string): string {
  if (value === '~') return os.homedir()
  return value.startsWith('~/') ? path.join(os.homedir(), value.slice(2)) : value
}

/** Validate (core's rules, plus: declared live paths must exist). Throws NsSandboxConfigError. */
export function validateOptions (options: unknown, where = 'nsSandbox()'): ResolvedOptions {
  if (options === undefined) options = {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new NsSandboxConfigError(`${where}: expected an object of sandbox options, got ${JSON.stringify(options)}`)
  }
  const { prespawn, report, ...sandbox } = options as NsSandboxOptions
  if (prespawn !== undefined && typeof prespawn !== 'boolean') {
    throw new NsSandboxConfigError(`${where}: option \`prespawn\`: expected true or false`)
  }
  const describe = (error: unknown): string => error instanceof SandboxError ? error.describe() : String(error)
  // `report` is the plugin's (true | 'json'); core only needs to know whether to collect one.
  let reportProblem: unknown
  let collect = false
  try {
    collect = checkRunReportOption(report) !== false
  } catch (error) {
    reportProblem = error
  }
  let resolved: ResolvedOptions
  try {
    resolved = resolveOptions({ ...sandbox, report: collect })
  } catch (error) {
    const text = [reportProblem, error].filter((e) => e !== undefined).map(describe).join('; ')
    throw new NsSandboxConfigError(`${where}: ${text}`, { cause: error })
  }
  if (reportProblem !== undefined) throw new NsSandboxConfigError(`${where}: ${describe(reportProblem)}`, { cause: reportProblem })
  for (const live of sandbox.writable ?? []) {
    if (!fs.existsSync(expandHome(live))) {
      throw new NsSandboxConfigError(`${where}: option \`writable\`: ${live} does not exist on the host (live paths are bind mounts; create it first)`)
    }
  }
  return resolved
}
