/**
 * spawnSandbox's options: the type, the names it knows, and the validated request they
 * make (host/launch-spec.ts works from that). Checked before anything starts, so a bad
 * one never reaches the launcher.
 */
import type { IOType } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SandboxError } from '../errors.js'
import { directoryProblem } from '../fs-util/path-problem.js'
import { resolveOptions, SANDBOX_OPTION_NAMES as SANDBOX_KEYS, type SandboxOptions } from '../options/schema.js'
import type { Handover } from '../protocol.js'
import type { LaunchRequest } from './launch-spec.js'

export type StdioEntry = IOType | 'inherit' | number

export interface SpawnSandboxOptions extends SandboxOptions {
  /** Run a command (execve'd inside; becomes PID 2). */
  command?: string
  args?: string[]
  /** Or run a Node module in the sandbox's Node process (with an IPC channel if `ipc`). */
  entry?: string
  execArgv?: string[]
  cwd?: string
  env?: NodeJS.ProcessEnv
  stdio?: 'inherit' | 'pipe' | 'ignore' | [StdioEntry, StdioEntry, StdioEntry]
  ipc?: boolean
  serialization?: 'json' | 'advanced'
  /** The Node binary for the bootstrap (default: the runner's). */
  nodePath?: string
  /**
   * Host paths the process needs to see (its modules, say) where a fresh area or a root
   * filesystem would hide them: brought back copy-on-write, like the cwd. Absolute.
   */
  keep?: string[]
  /**
   * Allow `reset()`: a fresh sandbox state for the next job while the command runs on (a
   * test runner's warm worker). Not with `root` (the init keeps a handle on the host's
   * tree, which a sandbox with the namespace's capabilities could reach) nor `report`.
   */
  resettable?: boolean
}

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

function handoverOf (options: SpawnSandboxOptions): Handover {
  if ((options.command === undefined) === (options.entry === undefined)) {
    throw new SandboxError('NSB_INVALID_OPTION', 'give exactly one of `command` (a program to run) or `entry` (a Node module to load)')
  }
  if (options.entry !== undefined) return { kind: 'node', entry: path.resolve(options.entry), args: options.args ?? [] }
  return { kind: 'exec', command: options.command ?? '', args: options.args ?? [] }
}

/** Every option checked and resolved; throws SandboxError NSB_INVALID_OPTION. */
export function launchRequestOf (options: SpawnSandboxOptions): LaunchRequest {
  rejectUnknownKeys(options)
  const env = options.env ?? process.env
  // `~` in masks and binds is the sandbox's HOME (and the account's home from passwd).
  const resolved = resolveOptions(pickSandboxOptions(options as SandboxOptions & Record<string, unknown>), env.HOME || os.homedir())
  const keep = options.keep ?? []
  if (!Array.isArray(keep) || !keep.every((p) => typeof p === 'string' && path.isAbsolute(p))) {
    throw new SandboxError('NSB_INVALID_OPTION', 'option `keep`: expected an array of absolute host paths')
  }
  const resettable = options.resettable === true
  if (resettable && (resolved.root || resolved.report)) {
    throw new SandboxError('NSB_INVALID_OPTION', resolved.root
      ? 'option `resettable` cannot be combined with `root`: the init keeps a handle on the host\'s tree to rebuild the state, and a sandbox with the namespace\'s capabilities could reach it'
      : 'option `resettable` cannot be combined with `report` yet: the report reads the layers after the sandbox ends')
  }
  return {
    resolved,
    handover: handoverOf(options),
    cwd: workingDirectory(options.cwd),
    nodePath: options.nodePath ?? process.execPath,
    execArgv: options.execArgv ?? [],
    ipc: options.ipc === true,
    resettable,
    keep,
    env
  }
}
