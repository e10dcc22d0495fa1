/** Runs the built `ns-sandbox` CLI as one of the test identities. */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Identity } from '../../../../test/helpers/identity.js'

export const CORE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const CLI = path.join(CORE_DIR, 'dist/cli/main.js')

if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`)

export interface CliRun { status: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

function toRun (result: SpawnSyncReturns<string>): CliRun {
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr }
}

/** `ns-sandbox <args>` as `who`, synchronously. */
export function cli (who: Identity, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number, input?: string } = {}): CliRun {
  const { file, args: argv } = who.wrap(process.execPath, [CLI, ...args])
  return toRun(spawnSync(file, argv, {
    cwd: options.cwd ?? os.tmpdir(),
    env: { ...who.env, ...options.env },
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    input: options.input ?? ''
  }))
}

/** `ns-sandbox run [options] -- sh -c script` as `who`. */
export function sandboxSh (who: Identity, options: string[], script: string, extra: Parameters<typeof cli>[2] = {}): CliRun {
  return cli(who, ['run', ...options, '--', 'sh', '-c', script], extra)
}

/** Start `ns-sandbox <args>` in the background as `who`. */
export function cliAsync (who: Identity, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv, stdin?: 'ignore' | 'pipe' } = {}): ReturnType<typeof spawn> {
  const { file, args: argv } = who.wrap(process.execPath, [CLI, ...args])
  return spawn(file, argv, { cwd: options.cwd ?? os.tmpdir(), env: { ...who.env, ...options.env }, stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'] })
}

/**
 * A script through the API: `files` (a `runner.mjs` among them) written into a temp
 * directory of `who`'s, the runner run there as `who` with `args`, its last stdout line
 * parsed as JSON. `check` looks at the directory before it is removed.
 */
export function runScriptAs<T> (who: Identity, prefix: string, files: Record<string, string>, options: { args?: string[], check?: (dir: string) => void } = {}): T {
  const work = tempDirFor(who, prefix)
  try {
    for (const [name, source] of Object.entries(files)) fs.writeFileSync(path.join(work.dir, name), source)
    const { file, args } = who.wrap(process.execPath, [path.join(work.dir, 'runner.mjs'), ...(options.args ?? [])])
    const run = spawnSync(file, args, { cwd: work.dir, env: who.env, encoding: 'utf8', timeout: 60_000 })
    if (run.status !== 0) throw new Error(`runner.mjs as ${who.name} exited ${String(run.status ?? run.signal)}: ${run.stderr}`)
    options.check?.(work.dir)
    return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as T
  } finally {
    work.remove()
  }
}

/** A temp directory owned by `who`, removed by the returned function. */
export function tempDirFor (who: Identity, prefix: string, parent = os.tmpdir()): { dir: string, remove: () => void } {
  const dir = fs.mkdtempSync(path.join(parent, prefix))
  fs.chownSync(dir, who.uid, who.gid)
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

/** Every file below `dir` with its mode and content hash: equal snapshots mean an untouched tree. */
export function snapshotTree (dir: string): string[] {
  const lines: string[] = []
  const walk = (current: string): void => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(current, entry.name)
      const stat = fs.lstatSync(full)
      const content = entry.isFile() ? fs.readFileSync(full).toString('base64') : entry.isSymbolicLink() ? fs.readlinkSync(full) : ''
      lines.push(`${path.relative(dir, full)} ${stat.mode.toString(8)} ${stat.uid}:${stat.gid} ${content}`)
      if (entry.isDirectory()) walk(full)
    }
  }
  walk(dir)
  return lines
}

/** Pids of processes whose command line contains `marker`. */
export function processesWith (marker: string): number[] {
  const result = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' })
  return result.stdout.split('\n').filter(Boolean).map(Number).filter((pid) => pid !== process.pid)
}

/** cgroup directories named like ours anywhere under /sys/fs/cgroup. */
export function sandboxCgroups (pattern = 'ns-sandbox-'): string[] {
  const result = spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '6', '-type', 'd', '-name', `${pattern}*`], { encoding: 'utf8' })
  return result.stdout.split('\n').filter(Boolean)
}

export async function waitFor (condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
