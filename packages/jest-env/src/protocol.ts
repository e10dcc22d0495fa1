/**
 * What crosses the IPC pipe between the runner (host) and the Jest child inside a
 * sandbox. Every message is one JSON string: results and events can hold cycles,
 * errors and functions, which Node's own `json` serialization would choke on.
 */

/**
 * 'state': one warm sandbox per lane, its state (files, /tmp, processes, ports, host name)
 * reset between files; 'file': a fresh sandbox and process per file; 'worker': one
 * sandbox per lane, nothing reset.
 */
export type Isolation = 'state' | 'file' | 'worker'

/** Environment variable the Jest child sets for the environment (see sandbox-check.ts). */
export const FACTS_VARIABLE = 'NS_SANDBOX_JEST'

/** Read-only facts about the sandbox, set by the child and exposed to tests as `nsSandbox`. */
export interface SandboxFacts {
  hostname: string
  isolation: Isolation
  /** JEST_WORKER_ID of the runner lane that runs the file. */
  lane: number
  network: string
  memoryBytes: number | null
  pids: number | null
  cpus: number | null
  timeoutMs: number | null
  /** Host paths that are live (bind mounts) instead of copy-on-write. */
  live: string[]
  /** The host's jest-runner module: the child and the environment load Jest from there. */
  jestRunner: string
}

/**
 * What the child needs before anything else; it comes with the first `prepare` message,
 * not as an argument: `process.argv` must look like a stock Jest worker's
 * (`[node, script]`), or a CLI parser a test runs on it (commander, yargs) fails.
 */
export interface ChildInit {
  facts: SandboxFacts
  /** Keep running after a file and wait for the next one. */
  reuse: boolean
  /**
   * The sandbox's state is reset between files (isolation 'state'): the reset leaves
   * this process's cwd in the old tree, so it changes directory again before each file.
   */
  resets: boolean
}

export interface ProjectPayload {
  config: unknown
  moduleMap: unknown
}

export interface RunContext {
  changedFiles?: string[]
  sourcesRelatedToTestsInChangedFiles?: string[]
}

export type HostMessage =
  /** Load Jest and this project's transforms, environment and test framework; warm up when there is time to. */
  | { type: 'prepare', init: ChildInit, globalConfig: unknown, project: ProjectPayload, testPath: string, warmUp: boolean }
  | { type: 'run', testPath: string, configId: string, project?: ProjectPayload, lane: number, context: RunContext }
  | { type: 'end' }

export type TestEventName = 'test-case-start' | 'test-case-result'

export interface SerializedError {
  message: string
  stack?: string
  code?: string
  type: 'Error'
}

export type ChildMessage =
  /** Jest is loaded. bootMs: process start to entry (Node + sandbox setup); loadMs: loading Jest and the project. */
  | { type: 'warm', bootMs: number, loadMs: number }
  | { type: 'event', name: TestEventName, args: unknown[] }
  | { type: 'done', testPath: string, result?: unknown, error?: SerializedError, runMs?: number }

export function serializeError (error: unknown): SerializedError {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const { message, stack, code } = error as { message?: unknown, stack?: unknown, code?: unknown }
    const serialized: SerializedError = { message: String(message), type: 'Error' }
    if (typeof stack === 'string') serialized.stack = stack
    if (typeof code === 'string' || typeof code === 'number') serialized.code = String(code)
    return serialized
  }
  return { message: String(error), type: 'Error' }
}

/**
 * JSON as Jest's own workers send it (functions dropped); when that fails (a cycle, a
 * BigInt), a copy with cycles cut, errors as message/stack/code, Sets and Maps as arrays
 * and objects.
 */
export function encode (value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null'
  } catch {
    return JSON.stringify(plain(value, new Set())) ?? 'null'
  }
}

function plain (value: unknown, ancestors: Set<object>): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'function' || typeof value === 'symbol') return undefined
  if (typeof value !== 'object' || value === null) return value
  if (ancestors.has(value)) return undefined
  if (value instanceof Error) return serializeError(value)
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return plain(toJSON.call(value), ancestors)
  ancestors.add(value)
  try {
    if (Array.isArray(value) || value instanceof Set) return [...value].map((item) => plain(item, ancestors) ?? null)
    const entries = value instanceof Map ? [...value.entries()] : Object.entries(value)
    const copy: Record<string, unknown> = {}
    for (const [key, item] of entries) {
      const converted = plain(item, ancestors)
      if (converted !== undefined) copy[String(key)] = converted
    }
    return copy
  } finally {
    ancestors.delete(value)
  }
}

export function decode<T> (wire: unknown): T | undefined {
  if (typeof wire !== 'string') return undefined
  try {
    return JSON.parse(wire) as T
  } catch {
    return undefined
  }
}
