/**
 * What the Vitest worker writes for the main process (or reads while the main
 * process writes it), which therefore must be live (bind mounts) instead of
 * copy-on-write; everything else of the project stays copy-on-write:
 *
 * - each test file's snapshot directory (`resolveSnapshotPath`'s directory). When it
 *   does not exist yet and snapshots may be written, it is created for a file that
 *   uses `toMatchSnapshot`/`toThrowErrorMatchingSnapshot`, and removed afterwards if
 *   still empty;
 * - the test file itself when snapshots may be written and it has inline snapshots
 *   (Vitest rewrites the file);
 * - the coverage temp directory (`<reportsDirectory>/.tmp`, Vitest 5 workers write
 *   their coverage there);
 * - the `fsModuleCache` directory.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { moduleCacheDirectory } from './module-cache.js'
import { acquireDirectory } from './snapshot-dirs.js'

export interface LivePaths {
  writable: string[]
  /** Remove snapshot directories created for this sandbox that stayed empty. */
  release: () => void
}

const FILE_SNAPSHOT = /\b(?:toMatchSnapshot|toThrowErrorMatchingSnapshot)\b/
const INLINE_SNAPSHOT = /\b(?:toMatchInlineSnapshot|toThrowErrorMatchingInlineSnapshot)\b/

function mayWriteSnapshots (project: TestProject): boolean {
  const update = (project.config.snapshotOptions as { updateSnapshot?: string } | undefined)?.updateSnapshot
  return update !== 'none'
}

function readSource (file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

function isDirectory (dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory()
  } catch {
    return false
  }
}

async function snapshotDirectory (project: TestProject, file: string): Promise<string> {
  const snapshotFile = await project.vitest.snapshot.resolvePath(file, { config: project.serializedConfig })
  return path.dirname(snapshotFile)
}

function coverageDirectory (project: TestProject): string | undefined {
  const coverage = project.serializedConfig.coverage as { enabled?: boolean, coverageFilesDirectory?: string } | undefined
  if (coverage?.enabled !== true || coverage.coverageFilesDirectory === undefined) return undefined
  return isDirectory(coverage.coverageFilesDirectory) ? coverage.coverageFilesDirectory : undefined
}

/**
 * Live paths for a sandbox that runs `files` of `project`. `inlineFiles: false` leaves
 * out test files with inline snapshots (for a pre-spawned sandbox, which is meant for
 * any file of the project and must not have every such test file live).
 */
export async function acquireLivePaths (project: TestProject, files: readonly string[], distPath: string,
  { inlineFiles = true } = {}): Promise<LivePaths> {
  const writable = new Set<string>()
  const releases: Array<() => void> = []
  const writes = mayWriteSnapshots(project)
  for (const file of new Set(files)) {
    const source = writes ? readSource(file) : ''
    const dir = await snapshotDirectory(project, file)
    if (isDirectory(dir)) {
      const release = writes ? acquireDirectory(dir) : undefined // shares a directory another sandbox created
      if (release !== undefined) releases.push(release)
      writable.add(dir)
    } else if (writes && FILE_SNAPSHOT.test(source)) {
      const release = acquireDirectory(dir)
      if (release !== undefined) {
        releases.push(release)
        writable.add(dir)
      }
    }
    if (inlineFiles && writes && INLINE_SNAPSHOT.test(source)) writable.add(file)
  }
  const coverage = coverageDirectory(project)
  if (coverage !== undefined) writable.add(coverage)
  const cache = await moduleCacheDirectory(project, distPath)
  if (cache !== undefined) writable.add(cache)
  return {
    writable: [...writable],
    release: () => {
      for (const release of releases.splice(0)) release()
    }
  }
}
