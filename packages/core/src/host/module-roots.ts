/**
 * Directories a test runner's process in the sandbox loads code from: the adapter's
 * package, the runner's packages, and the roots the project resolves modules from
 * (rootDir, roots, modulePaths, every module directory up the tree from rootDir, and
 * the workspace packages those link to).
 *
 * A sandbox brings back only the cwd (copy-on-write) and the entry file where a fresh
 * area hides the host: a project under /tmp whose node_modules are hoisted above its cwd
 * (a workspace) found neither its runner nor the adapter's own modules inside. The
 * adapters bring the hidden ones back as read-only binds (`bind`); elsewhere the host
 * view already shows them, copy-on-write, and they are left alone.
 */
import fs from 'node:fs'
import path from 'node:path'
import { FRESH_AREAS } from '../plan/mount-plan.js'

export interface ModuleRootsConfig {
  rootDir: string
  roots?: readonly string[]
  modulePaths?: readonly string[]
  moduleDirectories?: readonly string[]
}

export interface ReadonlyBind { source: string, target: string, readonly: true }

function isSameOrBelow (p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`)
}

function realpath (p: string): string | undefined {
  try {
    return fs.realpathSync(p)
  } catch {
    return undefined
  }
}

/** A path inside node_modules stands for the outermost node_modules holding it: its package's dependencies live there too. */
function moduleRoot (p: string): string {
  const at = p.split(path.sep).indexOf('node_modules')
  return at < 0 ? p : p.split(path.sep).slice(0, at + 1).join(path.sep)
}

/** Module directories (node_modules) in rootDir and every directory above it. */
function moduleDirectoriesUp (rootDir: string, names: readonly string[]): string[] {
  const found: string[] = []
  for (let dir = rootDir; ; dir = path.dirname(dir)) {
    for (const name of names) if (!path.isAbsolute(name)) found.push(path.join(dir, name))
    if (dir === path.dirname(dir)) return found
  }
}

/** Where the symlinked packages of a node_modules directory (workspace packages) really are. */
function linkedPackages (nodeModules: string): string[] {
  const targets: string[] = []
  const scan = (dir: string, depth: number): void => {
    let entries: fs.Dirent[]
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name)
      if (entry.isSymbolicLink()) {
        const target = realpath(full)
        if (target !== undefined) targets.push(target)
      } else if (depth === 0 && entry.isDirectory() && entry.name.startsWith('@')) {
        scan(full, 1)
      }
    }
  }
  scan(nodeModules, 0)
  return targets
}

/** A directory above the cwd cannot be bound without covering the cwd's own view: bind what lies beside the way down instead. */
function around (ancestor: string, cwd: string): string[] {
  const next = cwd.slice(ancestor.length + 1).split('/')[0]
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(ancestor, { withFileTypes: true })
  } catch {
    return []
  }
  const beside: string[] = []
  for (const entry of entries) {
    const full = path.join(ancestor, entry.name)
    if (entry.name === next) {
      if (full !== cwd) beside.push(...around(full, cwd))
    } else if (entry.isDirectory() || entry.isFile() || entry.isSymbolicLink()) {
      beside.push(full)
    }
  }
  return beside
}

/**
 * Read-only binds for what the runner's process needs and a fresh area would hide.
 * `code`: other files or directories it loads (the adapter's package, the runner's).
 */
export function hiddenModuleRoots (config: ModuleRootsConfig, cwd: string, code: readonly string[]): ReadonlyBind[] {
  const realCwd = realpath(cwd) ?? cwd
  const hidden = (p: string): boolean => FRESH_AREAS.some((area) => p !== area && isSameOrBelow(p, area)) && !isSameOrBelow(p, realCwd)
  const wanted = [
    ...code,
    config.rootDir,
    ...(config.roots ?? []),
    ...(config.modulePaths ?? []),
    ...moduleDirectoriesUp(config.rootDir, config.moduleDirectories ?? ['node_modules'])
  ]
  const roots = new Set<string>()
  for (const p of wanted) {
    const real = realpath(p)
    if (real === undefined || !hidden(real)) continue
    const root = moduleRoot(real)
    roots.add(root)
    if (path.basename(root) !== 'node_modules') continue
    for (const linked of linkedPackages(root)) if (hidden(linked)) roots.add(moduleRoot(linked))
  }
  const sorted = [...roots].sort()
  const outermost = sorted.filter((p) => !sorted.some((other) => other !== p && isSameOrBelow(p, other)))
  const paths = outermost.flatMap((p) => isSameOrBelow(realCwd, p) ? around(p, realCwd) : [p])
  return paths.map((p) => ({ source: p, target: p, readonly: true }))
}
