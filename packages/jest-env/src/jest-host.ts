/**
 * The Jest that is running us. Our own `require('jest-runner')` could find another
 * version (a monorepo root with Jest 30 and a project with Jest 29), so everything
 * Jest-side is loaded relative to the @jest/core this process runs: its jest-runner,
 * and jest-runner's own jest-runtime, jest-haste-map, @jest/transform and
 * jest-environment-node, in the host and in the sandbox alike.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

export interface HostJest {
  /** Absolute path of jest-runner's main module. */
  runnerPath: string
  /** require() relative to jest-runner (for its dependencies). */
  require: NodeJS.Require
  /** require() relative to @jest/core (jest-snapshot), or to jest-runner when core was not found. */
  coreRequire: NodeJS.Require
  /** jest-runner's version. */
  version: string
}

const CORE_ENTRY = /[\\/]@jest[\\/]core[\\/]build[\\/]index\.js$/

function loadedCore (): string | undefined {
  const loaded = Object.keys(require.cache).filter((file) => CORE_ENTRY.test(file))
  if (loaded.length <= 1) return loaded[0]
  // Several @jest/core copies in one process: prefer the one beside the CLI that started it.
  const main = require.main?.filename
  if (main !== undefined) {
    const mainRoot = main.slice(0, main.lastIndexOf(`${path.sep}node_modules${path.sep}`))
    const near = loaded.find((file) => file.startsWith(mainRoot))
    if (near !== undefined) return near
  }
  return loaded[0]
}

let cached: HostJest | undefined

export function hostJest (): HostJest {
  if (cached !== undefined) return cached
  const core = loadedCore()
  const anchors = [core, require.main?.filename, __filename].filter((file): file is string => file !== undefined)
  let runnerPath: string | undefined
  for (const anchor of anchors) {
    try {
      runnerPath = createRequire(anchor).resolve('jest-runner')
      break
    } catch {
      // next anchor
    }
  }
  if (runnerPath === undefined) throw new Error('jest-environment-ns-sandbox: cannot find jest-runner next to the running Jest (@jest/core)')
  const load = createRequire(runnerPath)
  let version = 'unknown'
  try {
    const manifest = path.join(runnerPath.slice(0, runnerPath.lastIndexOf(`${path.sep}build${path.sep}`)), 'package.json')
    version = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string }).version
  } catch {
    // informative only
  }
  cached = { runnerPath, require: load, coreRequire: core === undefined ? load : createRequire(core), version }
  return cached
}

/** ES module interop for Jest's CommonJS builds (`exports.default`). */
export function interop<T> (loaded: unknown): T {
  const value = loaded as { __esModule?: boolean, default?: T }
  return (value.__esModule === true && value.default !== undefined ? value.default : loaded) as T
}
