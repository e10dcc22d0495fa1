/**
 * spawnSandbox's options beyond the schema's: the names it knows, and the working
 * directory. Checked before anything starts, so a bad one never reaches the launcher.
 */
import fs from 'node:fs'
import path from 'node:path'
import { SandboxError } from '../errors.js'
import { directoryProblem } from '../fs-util/path-problem.js'
import { SANDBOX_OPTION_NAMES as SANDBOX_KEYS, type SandboxOptions } from '../options/schema.js'


/** What spawnSandbox takes beyond the sandbox's own options. */
const SPAWN_KEYS = ['command', 'args', 'entry', 'execArgv', 'cwd', 'env', 'stdio', 'ipc', 'serialization', 'nodePath', 'resettable', 'keep'] as const

const KNOWN_KEYS: readonly string[] = [...SANDBOX_KEYS, ...SPAWN_KEYS]

/** A misspelt option (`memroy`) must not start a sandbox without the limit it meant. */
export function rejectUnknownKeys (options: object): void {
  const unknown = Object.entries(options).filter(([key, value]) => value !== undefined && !KNOWN_KEYS.includes(key)).map(([key]) => `\`${key}\``)
  if (unknown.length > 0) {
    throw new SandboxError('NSB_INVALID_OPTION', `unknown option ${unknown.join(', ')}; known options: ${KNOWN_KEYS.join(', ')}`)
  }
}

/** The sandbox's own options out of a larger object (spawn options, an adapter's config). */
export function pickSandboxOptions (options: SandboxOptions & Record<string, unknown>): SandboxOptions {
  const picked: Record<string, unknown> = {}
  for (const key of SANDBOX_KEYS) if (options[key] !== undefined) picked[key] = options[key]
  return picked as SandboxOptions
}

function currentDirectory (): string {
  try {
    return process.cwd()
  } catch {
    // The runner's directory was removed after it started (uv_cwd: ENOENT).
    throw new SandboxError('NSB_INVALID_OPTION', 'option `cwd`: the current directory no longer exists; change to another directory or pass `cwd` (CLI: --cwd)')
  }
}

/** The sandbox's working directory (kept inside): it must be a directory the caller can enter. */
export function workingDirectory (cwd: string | undefined): string {
  const dir = path.resolve(cwd ?? currentDirectory())
  const problem = directoryProblem(dir, fs.constants.X_OK, 'is not accessible to you')
  if (problem !== undefined) throw new SandboxError('NSB_INVALID_OPTION', `option \`cwd\`: ${dir} ${problem}`)
  return dir
}
