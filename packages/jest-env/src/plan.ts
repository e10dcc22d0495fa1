/**
 * Per test file, before anything runs: its sandbox's options, its live paths, and which
 * files may share a sandbox (isolation 'state' and 'worker').
 */
import fs from 'node:fs'
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
  roots?: string[]
  modulePaths?: string[]
  moduleDirectories?: string[]
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
  /** Files with equal keys may share a sandbox (isolation 'state' and 'worker'). */
  key: string
  /** Planning failed (for example an invalid docblock option): the file fails with this. */
  error?: SerializedError
}

type Pragmas = Record<string, string | string[] | undefined>

export function projectName (config: ProjectConfig): string {
  const name = typeof config.displayName === 'string' ? config.displayName : config.displayName?.name
  return name === undefined ? config.rootDir : `"${name}" (${config.rootDir})`
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
