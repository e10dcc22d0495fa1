/**
 * Host scratch space: `<base>/run-<runId>/<n>/{root,layers,hosts}` (`hosts`: the
 * sandbox's /etc/hosts, written by plan-input.ts). The base lives in a
 * world-writable place (/tmp by default), so it is checked like any file a privileged
 * tool trusts there: a real directory, ours, not reachable by others.
 */
import fs from 'node:fs'
import path from 'node:path'
import { SandboxError } from '../errors.js'
import { makeDirectories } from '../fs-util/make-directories.js'
import { removeTreeSync as removeTree } from '../fs-util/remove-tree.js'
import { currentRunId, isRunAlive } from './run-id.js'

export interface SandboxScratch {
  dir: string
  rootDir: string
  layersDir: string
}

const RUN_PREFIX = 'run-'
let sequence = 0
const preparedBases = new Set<string>()

const SCRATCH_FIX = 'Set the `scratchDir` option (CLI: --scratch-dir) to a directory of your own that others cannot write, ' +
  'or to a path that does not exist yet (it is created, mode 0700).'

/**
 * The base must be a directory of ours that nobody else can write. When it is not, the
 * error never suggests deleting it: the user may have named any path (`/tmp`, a file).
 */
function ensureOwnedDirectory (dir: string): void {
  try {
    makeDirectories(dir, 0o700)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR' || code === 'EEXIST') throw notADirectory(dir, 'is not a directory')
    throw new SandboxError('NSB_SCRATCH_FAILED', `cannot create the scratch directory ${dir}: ${(error as Error).message}`,
      { details: ['Set the `scratchDir` option (CLI: --scratch-dir) to a writable directory on a local filesystem.'] })
  }
  const stat = fs.lstatSync(dir)
  if (stat.isSymbolicLink()) throw notADirectory(dir, 'is a symbolic link (name the directory it points to)')
  if (!stat.isDirectory()) throw notADirectory(dir, 'is not a directory')
  const uid = process.getuid?.() ?? 0
  const problem = stat.uid !== uid
    ? `it is owned by uid ${stat.uid}, not by you (uid ${uid})`
    : (stat.mode & 0o022) !== 0 ? `others can write it (mode ${(stat.mode & 0o7777).toString(8)})` : undefined
  if (problem !== undefined) {
    throw new SandboxError('NSB_SCRATCH_FAILED', `refusing scratch directory ${dir}: ${problem}`, { details: [SCRATCH_FIX] })
  }
}

function notADirectory (dir: string, what: string): SandboxError {
  return new SandboxError('NSB_INVALID_OPTION', `option \`scratchDir\` (CLI: --scratch-dir): ${dir} ${what}`, { details: [SCRATCH_FIX] })
}

/** Remove scratch left by runs whose process is gone (SIGKILLed runners). */
export function removeStaleScratch (base: string): string[] {
  const removed: string[] = []
  let names: string[]
  try {
    names = fs.readdirSync(base)
  } catch {
    return removed
  }
  for (const name of names) {
    if (!name.startsWith(RUN_PREFIX) || isRunAlive(name.slice(RUN_PREFIX.length))) continue
    try {
      removeTree(path.join(base, name))
      removed.push(name)
    } catch {
      // Another run may be removing it at the same moment.
    }
  }
  return removed
}

export function runDirectory (base: string): string {
  return path.join(base, RUN_PREFIX + currentRunId())
}

/** Create the scratch directories of one sandbox; cleans stale runs the first time. */
export function createSandboxScratch (base: string): SandboxScratch {
  if (!preparedBases.has(base)) {
    ensureOwnedDirectory(base)
    removeStaleScratch(base)
    preparedBases.add(base)
  }
  const dir = path.join(runDirectory(base), String(++sequence))
  const rootDir = path.join(dir, 'root')
  fs.mkdirSync(rootDir, { recursive: true, mode: 0o700 })
  return { dir, rootDir, layersDir: path.join(dir, 'layers') }
}

export function removeSandboxScratch (scratch: SandboxScratch): void {
  removeTree(scratch.dir)
}

/** At runner exit: the run's directory, and the base when no other run uses it. */
export function removeRunScratch (base: string): void {
  // A base that was refused (a file, /tmp) holds nothing of ours: leave it alone.
  if (!preparedBases.has(base)) return
  removeTree(runDirectory(base))
  try {
    fs.rmdirSync(base)
  } catch {
    // other runs are live, or it was never created
  }
}
