/**
 * Host scratch space: `<base>/run-<runId>/<n>/{root,upper,work}`. The base lives in a
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

function ensureOwnedDirectory (dir: string): void {
  try {
    makeDirectories(dir, 0o700)
  } catch (error) {
    throw new SandboxError('NSB_SCRATCH_FAILED', `cannot create the scratch directory ${dir}: ${(error as Error).message}`,
      { details: ['Set the `scratchDir` option (CLI: --scratch-dir) to a writable directory on a local filesystem.'] })
  }
  const stat = fs.lstatSync(dir)
  const uid = process.getuid?.() ?? 0
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o022) !== 0) {
    throw new SandboxError('NSB_SCRATCH_FAILED',
      `refusing scratch directory ${dir}: it must be a directory owned by uid ${uid} and not writable by others`,
      { details: [`Remove it (rm -rf ${dir}) or set the \`scratchDir\` option to another directory.`] })
  }
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
  removeTree(runDirectory(base))
  try {
    fs.rmdirSync(base)
  } catch {
    // other runs are live, or it was never created
  }
}
