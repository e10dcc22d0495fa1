/**
 * Before any test file is scheduled: can this machine make the sandboxes the config
 * asks for? One real sandbox per distinct set of options (an empty Node module, the
 * same launch as a test file's) answers for everything: tools, namespaces, mounts,
 * cgroup delegation for the limits, the root filesystem. It starts when the config is
 * loaded, so it overlaps Vitest's own startup, and is awaited before the first test
 * file. A failure stops the run with core's diagnosis and the doctor's failed checks,
 * instead of running a file unsandboxed.
 */
import { fileURLToPath } from 'node:url'
import { isSandboxError, runAllChecks, spawnSandbox, type SandboxOptions } from '@ns-sandbox/core'
import { NsSandboxConfigError } from './options.js'

const probeEntry = fileURLToPath(new URL('./probe-entry.js', import.meta.url))
const probes = new Map<string, Promise<string | undefined>>()

async function collect (stream: NodeJS.ReadableStream | null): Promise<string> {
  if (stream === null) return ''
  let text = ''
  for await (const chunk of stream) text += String(chunk)
  return text
}

/** Resolves to undefined when a sandbox works, else to the reason. Never rejects. */
async function probe (options: SandboxOptions): Promise<string | undefined> {
  try {
    // (no side-effect report: nobody reads the probe's)
    const sandbox = await spawnSandbox({ ...options, report: false, entry: probeEntry, cwd: process.cwd(), stdio: ['ignore', 'ignore', 'pipe'] })
    const [stderr, result] = await Promise.all([collect(sandbox.child.stderr), sandbox.result])
    if (result.code === 0) return undefined
    const how = result.message ?? (result.signal !== null ? `signal ${result.signal}` : `exit code ${String(result.code)}`)
    return `a test sandbox ended with ${how}${stderr.trim() === '' ? '' : `:\n${stderr.trim()}`}`
  } catch (error) {
    return isSandboxError(error) ? error.describe() : error instanceof Error ? error.message : String(error)
  }
}

/** Start checking (memoized per set of options); `assertCanSandbox` awaits the answer. */
export function startProbe (options: SandboxOptions): Promise<string | undefined> {
  const key = JSON.stringify(options)
  let pending = probes.get(key)
  if (pending === undefined) {
    pending = probe(options)
    probes.set(key, pending)
  }
  return pending
}

/** Throws NsSandboxConfigError with the diagnosis when these options cannot make a sandbox. */
export async function assertCanSandbox (options: SandboxOptions, where: string): Promise<void> {
  const problem = await startProbe(options)
  if (problem === undefined) return
  const failed = runAllChecks().filter((check) => !check.ok).flatMap((check) => [
    `  ✗ ${check.name}: ${check.summary}${check.code === undefined ? '' : ` (${check.code})`}`,
    ...(check.fix ?? []).map((fix) => `      ${fix}`)
  ])
  throw new NsSandboxConfigError([
    `${where}: this machine cannot create the sandboxes the config asks for, so no test file was run.`,
    problem,
    ...(failed.length === 0 ? [] : ['Failed checks of `ns-sandbox doctor`:', ...failed])
  ].join('\n'))
}
