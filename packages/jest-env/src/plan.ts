/**
 * Per test file, before anything runs: does it go into a sandbox, with which options,
 * which live paths, and which files may share a sandbox (isolation 'worker').
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Core } from './core'
import type { HostJest } from './jest-host'
import type { LivePaths } from './live-paths'
import { OptionsError, docblockLayer, mergeLayers, type FileOptions, type OptionLayer } from './options'
import { serializeError, type Isolation, type SerializedError } from './protocol'

export interface ProjectConfig {
  id: string
  rootDir: string
  cacheDirectory: string
  displayName?: { name: string } | string
  testEnvironment: string
  testEnvironmentOptions?: Record<string, unknown>
}

export interface Test {
  path: string
  duration?: number
  context: { config: ProjectConfig, moduleMap: { toJSON: () => unknown } }
}

export interface Plan {
  test: Test
  isolation: Isolation
  options: FileOptions
  /** Project and file live paths. */
  live: string[]
  /** Files with equal keys may share a sandbox (isolation 'worker'). */
  key: string
  /** Planning failed (for example an invalid docblock option): the file fails with this. */
  error?: SerializedError
}

const OWN_ENVIRONMENT = path.join(__dirname, 'environment.js')
const PACKAGE_NAME = 'jest-environment-ns-sandbox'

type Pragmas = Record<string, string | string[] | undefined>

export function projectName (config: ProjectConfig): string {
  const name = typeof config.displayName === 'string' ? config.displayName : config.displayName?.name
  return name === undefined ? config.rootDir : `"${name}" (${config.rootDir})`
}

function realpath (file: string): string {
  try {
    return fs.realpathSync(file)
  } catch {
    return file
  }
}

/** Is this resolved environment module ours (this copy, or another install of the package)? */
export function isOwnEnvironment (file: string | undefined): boolean {
  if (file === undefined || !path.isAbsolute(file)) return false
  const real = realpath(file)
  if (real === realpath(OWN_ENVIRONMENT)) return true
  for (let dir = path.dirname(real); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json')
    if (!fs.existsSync(manifest)) continue
    try {
      return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME
    } catch {
      return false
    }
  }
  return false
}

export class Planner {
  private readonly sources = new Map<string, string>()

  constructor (private readonly jest: HostJest) {}

  source (testPath: string): string {
    let text = this.sources.get(testPath)
    if (text === undefined) {
      text = fs.readFileSync(testPath, 'utf8')
      this.sources.set(testPath, text)
    }
    return text
  }

  pragmas (testPath: string): Pragmas {
    const docblock = this.jest.require('jest-docblock') as { extract: (text: string) => string, parse: (block: string) => Pragmas }
    return docblock.parse(docblock.extract(this.source(testPath)))
  }

  /**
   * A file is sandboxed when its project's testEnvironment is ours (then every file
   * of the project is, whatever its docblock says), or when its docblock names ours.
   */
  isSandboxed (test: Test): boolean {
    const config = test.context.config
    if (isOwnEnvironment(config.testEnvironment)) return true
    const pragma = this.pragmas(test.path)['jest-environment']
    if (typeof pragma !== 'string') return false
    return isOwnEnvironment(this.resolveEnvironment(pragma, config))
  }

  private resolveEnvironment (name: string, config: ProjectConfig): string | undefined {
    const { resolveTestEnvironment } = this.jest.require('jest-resolve') as {
      resolveTestEnvironment?: (options: Record<string, unknown>) => string
    }
    try {
      if (resolveTestEnvironment !== undefined) {
        return resolveTestEnvironment({ ...config, testEnvironment: name, requireResolveFunction: require.resolve })
      }
    } catch {
      // fall through
    }
    return /^(jest-environment-)?ns-sandbox$/.test(name) ? OWN_ENVIRONMENT : undefined
  }

  async plan (core: Core, live: LivePaths, test: Test, layers: readonly OptionLayer[]): Promise<Plan> {
    const config = test.context.config
    let options: FileOptions
    try {
      const fileLayer = docblockLayer(this.pragmas(test.path)['jest-environment-options'], test.path)
      options = mergeLayers(core, fileLayer === undefined ? layers : [...layers, fileLayer])
    } catch (error) {
      if (!(error instanceof OptionsError)) throw error
      // The project's own layers were checked before: this is the file's docblock.
      return { test, isolation: 'file', options: mergeLayers(core, layers), live: [], key: '', error: serializeError(error) }
    }
    const paths = [...live.forProject(config), ...await live.forFile(config, test.path, this.source(test.path))]
    const key = JSON.stringify([config.id, options.isolation, options.sandbox])
    return { test, isolation: options.isolation, options, live: [...new Set(paths)], key }
  }
}
