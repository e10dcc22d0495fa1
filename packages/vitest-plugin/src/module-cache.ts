/**
 * Where Vitest keeps `fsModuleCache` (Vitest 5; `experimental.fsModuleCache` in 4): the
 * main process writes transformed modules there while workers read them, so the
 * directory is live in every sandbox. Same location rules as Vitest: the configured
 * path, else `node_modules/<name>` in Vite's workspace root.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { TestProject } from 'vitest/node'

interface CacheConfig { fsModuleCache?: boolean, fsModuleCachePath?: string }

const workspaceRoots = new Map<string, Promise<string>>()

/** Vite's own `searchForWorkspaceRoot`, from the Vite next to the running Vitest. */
function workspaceRoot (distPath: string, root: string): Promise<string> {
  const key = `${distPath}\0${root}`
  let found = workspaceRoots.get(key)
  if (found === undefined) {
    found = (async () => {
      const vite = createRequire(path.join(distPath, 'index.js')).resolve('vite')
      const { searchForWorkspaceRoot } = await import(pathToFileURL(vite).href) as { searchForWorkspaceRoot: (root: string) => string }
      return searchForWorkspaceRoot(root)
    })()
    workspaceRoots.set(key, found)
  }
  return found
}

/** The cache directory when the project uses one (created, as Vitest would), else undefined. */
export async function moduleCacheDirectory (project: TestProject, distPath: string): Promise<string | undefined> {
  const major = Number(project.vitest.version.split('.')[0])
  const settingsOf = (config: unknown): CacheConfig => {
    const record = config as CacheConfig & { experimental?: CacheConfig }
    return (major >= 5 ? record : record.experimental) ?? {}
  }
  const own = settingsOf(project.config)
  if (own.fsModuleCache !== true) return undefined
  const configured = own.fsModuleCachePath || settingsOf(project.vitest.config).fsModuleCachePath
  const dir = configured !== undefined && configured !== ''
    ? path.resolve(project.config.root, configured)
    : path.join(await workspaceRoot(distPath, project.vitest.vite.config.root), 'node_modules',
      major >= 5 ? '.vitest-cache' : '.experimental-vitest-cache')
  try {
    fs.mkdirSync(dir, { recursive: true })
  } catch {
    return undefined // Vitest warns and runs without the cache
  }
  return dir
}
