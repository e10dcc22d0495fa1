/**
 * The plugin's options are core's sandbox options, checked when the config is loaded
 * so that a typo fails the run before any test file is scheduled.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { resolveOptions, SandboxError, type ResolvedOptions, type SandboxOptions } from '@ns-sandbox/core'

export interface NsSandboxOptions extends SandboxOptions {
  /**
   * Start the next file's sandbox while the current file runs (default: true; off
   * when `timeout` is set, since a sandbox's wall clock starts when it is spawned).
   */
  prespawn?: boolean
}

/** The plugin's own options apart from core's. */
export function splitOptions (options: NsSandboxOptions): { sandbox: SandboxOptions, prespawn: boolean } {
  const { prespawn, ...sandbox } = options
  return { sandbox, prespawn: prespawn !== false && sandbox.timeout === undefined }
}

export class NsSandboxConfigError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(`[ns-sandbox] ${message}`, options)
    this.name = 'NsSandboxConfigError'
  }
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
  const { prespawn, ...sandbox } = options as NsSandboxOptions
  if (prespawn !== undefined && typeof prespawn !== 'boolean') {
    throw new NsSandboxConfigError(`${where}: option \`prespawn\`: expected true or false`)
  }
  let resolved: ResolvedOptions
  try {
    resolved = resolveOptions(sandbox)
  } catch (error) {
    const text = error instanceof SandboxError ? error.describe() : String(error)
    throw new NsSandboxConfigError(`${where}: ${text}`, { cause: error })
  }
  for (const live of sandbox.writable ?? []) {
    if (!fs.existsSync(expandHome(live))) {
      throw new NsSandboxConfigError(`${where}: option \`writable\`: ${live} does not exist on the host (live paths are bind mounts; create it first)`)
    }
  }
  return resolved
}
