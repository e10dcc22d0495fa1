/**
 * Where a pool worker's sandbox comes from: the live paths its files need, then a
 * pre-spawned sandbox that covers them (warm-pool.ts) or a new one; and, once a worker
 * runs, the pre-spawned sandbox for the project's next file.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { hiddenModuleRoots, spawnSandbox, type ReadonlyBind, type RunReportOption, type Sandbox, type SandboxOptions, type SpawnSandboxOptions } from '@ns-sandbox/core'
import type { PoolOptions } from 'vitest/node'
import { acquireLivePaths, type LivePaths } from './live-paths.js'
import { warmPoolOf, type Warm } from './warm-pool.js'

export interface PoolSettings {
  name: string
  sandbox: SandboxOptions
  /** Start the next file's sandbox while this one runs (warm-pool.ts). */
  prespawn: boolean
  /** The run report (run-report.ts); core's `report` in `sandbox` collects each sandbox's part. */
  report: RunReportOption
}

export interface Opened {
  sandbox: Sandbox
  live: LivePaths
  prespawned: boolean
}

/**
 * At most this many pre-spawned sandboxes per project are waiting or starting: one
 * per Vitest worker and one more, as starting one takes longer than a light file runs.
 */
const MAX_WAITING = 4

/** This package's files (a setup file of ours may run in the worker). */
const PLUGIN_DIR = path.dirname(fileURLToPath(import.meta.url))

export class Launcher {
  private moduleBinds: ReadonlyBind[] | undefined

  constructor (private readonly options: PoolOptions, private readonly settings: PoolSettings) {}

  /** A sandbox for `files` (with `isolate: false`, for every test file of the project). */
  async open (files: readonly string[]): Promise<Opened> {
    const { project, distPath } = this.options
    const all = project.config.isolate === false ? [...new Set([...files, ...(await project.globTestFiles()).testFiles])] : files
    const live = await acquireLivePaths(project, all, distPath)
    try {
      const warm = this.settings.prespawn ? await warmPoolOf(project.vitest).take(this.key(), live.writable) : undefined
      const sandbox = warm?.sandbox ?? await spawnSandbox(this.spawnOptions(live.writable))
      return { sandbox, live, prespawned: warm !== undefined }
    } catch (error) {
      live.release()
      throw error
    }
  }

  /** Start a sandbox for one of the project's next files, unless enough are waiting. */
  prepareNext (): void {
    const { project, execArgv } = this.options
    // a debugger waits for the file it was started for
    if (!this.settings.prespawn || execArgv.some((arg) => arg.startsWith('--inspect'))) return
    const capacity = Math.min(MAX_WAITING, Math.max(1, Number(project.config.maxWorkers) || 1) + 1)
    warmPoolOf(project.vitest).prepare(this.key(), capacity, () => this.spawnWarm())
  }

  /** Vitest's forks worker, as Vitest's forks pool starts it, in a sandbox. */
  private spawnOptions (livePaths: readonly string[]): SpawnSandboxOptions {
    const { sandbox } = this.settings
    return {
      ...sandbox,
      writable: [...sandbox.writable ?? [], ...livePaths],
      // Another root filesystem shows none of the host's: those binds would be the user's choice.
      bind: sandbox.rootfs === undefined || sandbox.rootfs === 'host' ? [...sandbox.bind ?? [], ...this.hiddenModules()] : sandbox.bind,
      entry: path.resolve(this.options.distPath, 'workers/forks.js'),
      execArgv: this.options.execArgv,
      env: this.options.env as NodeJS.ProcessEnv,
      cwd: process.cwd(),
      ipc: true,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe']
    }
  }

  /**
   * Vitest, this package and the project's module roots when a fresh area hides them (a
   * workspace under /tmp with its node_modules above the cwd): read-only, as they are.
   */
  private hiddenModules (): ReadonlyBind[] {
    this.moduleBinds ??= hiddenModuleRoots({ rootDir: this.options.project.config.root }, process.cwd(), [this.options.distPath, PLUGIN_DIR])
    return this.moduleBinds
  }

  /** Which pre-spawned sandboxes fit: same project, options, execArgv and env. */
  private key (): string {
    const { project, execArgv, env } = this.options
    return JSON.stringify([project.name, project.config.root, this.settings.sandbox, execArgv, env])
  }

  /** Live paths for any file of the project, but never a test file itself (inline snapshots). */
  private async spawnWarm (): Promise<Warm | undefined> {
    const { project, distPath } = this.options
    const { testFiles } = await project.globTestFiles()
    const live = await acquireLivePaths(project, testFiles, distPath, { inlineFiles: false })
    try {
      return { sandbox: await spawnSandbox(this.spawnOptions(live.writable)), live }
    } catch {
      live.release()
      return undefined // the next file starts a sandbox of its own, and reports why if that fails too
    }
  }
}
