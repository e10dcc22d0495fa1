/**
 * Paths the Jest child writes for the main process, which must therefore be live
 * (bind mounts) instead of copy-on-write:
 *
 * - the project's `cacheDirectory` (transform cache; shared with the host and the
 *   other sandboxes, as between Jest's workers);
 * - unless snapshots are never written (`--ci`): the directory the project's snapshot
 *   resolver gives for the file (`__snapshots__`), created beforehand if missing and
 *   removed afterwards if still empty, and the test file itself when it holds inline
 *   snapshots (jest-snapshot rewrites it in place).
 *
 * Coverage travels in the file's result (istanbul and v8 alike), so it needs no path.
 */
import fs from 'node:fs'
import path from 'node:path'

interface SnapshotResolver { resolveSnapshotPath: (testPath: string) => string }
type BuildSnapshotResolver = (config: unknown) => Promise<SnapshotResolver>

export interface ProjectConfigLike {
  id: string
  rootDir: string
  cacheDirectory: string
}

const INLINE = /InlineSnapshot/

export class LivePaths {
  private readonly resolvers = new Map<string, Promise<SnapshotResolver>>()
  /** Directories this run created, deepest last. */
  private readonly created: string[] = []

  constructor (private readonly updateSnapshot: string, private readonly buildSnapshotResolver: BuildSnapshotResolver) {}

  /** Live paths the project's sandboxes always need. */
  forProject (config: ProjectConfigLike): string[] {
    this.ensureDirectory(config.cacheDirectory, false)
    return [config.cacheDirectory]
  }

  /** Live paths one file needs. */
  async forFile (config: ProjectConfigLike, testPath: string, source: string): Promise<string[]> {
    if (this.updateSnapshot === 'none') return []
    let resolver = this.resolvers.get(config.id)
    if (resolver === undefined) {
      resolver = this.buildSnapshotResolver(config)
      this.resolvers.set(config.id, resolver)
    }
    const snapshotDir = path.dirname((await resolver).resolveSnapshotPath(testPath))
    this.ensureDirectory(snapshotDir, true)
    return INLINE.test(source) ? [snapshotDir, testPath] : [snapshotDir]
  }

  /** Remove the directories created for snapshots that stayed empty. */
  cleanUp (): void {
    for (const dir of [...this.created].reverse()) {
      try {
        fs.rmdirSync(dir)
      } catch {
        // not empty (snapshots were written) or already gone
      }
    }
    this.created.length = 0
  }

  private ensureDirectory (dir: string, track: boolean): void {
    if (fs.existsSync(dir)) return
    const missing: string[] = []
    for (let current = dir; !fs.existsSync(current); current = path.dirname(current)) missing.unshift(current)
    fs.mkdirSync(dir, { recursive: true })
    if (track) this.created.push(...missing)
  }
}
