/**
 * `runner: 'jest-environment-ns-sandbox/runner'`: a Jest test runner (event-emitter
 * flavour) that runs every test file in its own sandbox with the stock in-band
 * machinery of the host's Jest and the project's own test environment.
 */
import path from 'node:path'
import type { ReadonlyBind } from '@ns-sandbox/core'
import { loadCore, type Core } from './core'
import { Emitter, type Listener } from './emitter'
import { hostJest, type HostJest } from './jest-host'
import { Lanes } from './lanes'
import { LivePaths } from './live-paths'
import { mergeLayers, misplacedOptions, misplacedOptionsWarning, projectLayer, runnerLayer, type OptionLayer } from './options'
import { Planner, projectName, type Plan, type ProjectConfig, type Test } from './plan'
import { FACTS_VARIABLE, encode, type ChildInit, type HostMessage, type SandboxFacts, type SerializedError, type TestEventName } from './protocol'
import { RunReport } from './run-report'
import { SandboxChild, failureOf, type RunOutcome, type SandboxEnd } from './sandbox-child'
import { trace } from './trace'

interface GlobalConfig {
  rootDir: string
  maxWorkers: number
  updateSnapshot: 'all' | 'new' | 'none'
}

interface TestWatcher {
  isInterrupted: () => boolean
  on: (event: 'change', listener: (state: { interrupted: boolean }) => void) => unknown
}

interface RunnerContext {
  changedFiles?: Set<string>
  sourcesRelatedToTestsInChangedFiles?: Set<string>
}

interface TestResultLike {
  numFailingTests?: number
  failureMessage?: string | null
  testExecError?: unknown
}

const CHILD_ENTRY = path.join(__dirname, 'child.js')
const PACKAGE_DIR = path.dirname(__dirname)
const PREFIX = 'jest-environment-ns-sandbox'

function describeError (error: unknown): string {
  if (typeof error === 'object' && error !== null && 'describe' in error && typeof error.describe === 'function') {
    return String((error as { describe: () => string }).describe())
  }
  return error instanceof Error ? error.message : String(error)
}

function plainExecArgv (): string[] {
  // A debugger flag would make every sandbox try to bind the same inspector port.
  return process.execArgv.filter((flag) => !/^--(inspect|debug)/.test(flag))
}

/** Projects already warned about (once per process: watch mode runs again and again). */
const warned = new Set<string>()

function warnMisplaced (core: Core, config: ProjectConfig): void {
  const names = misplacedOptions(core, config.testEnvironmentOptions)
  if (names.length === 0 || warned.has(config.id)) return
  warned.add(config.id)
  process.stderr.write(misplacedOptionsWarning(projectName(config), names))
}

export default class NsSandboxRunner {
  readonly supportsEventEmitters = true
  private readonly events = new Emitter()

  constructor (
    private readonly globalConfig: GlobalConfig,
    private readonly context: RunnerContext = {},
    private readonly runnerOptions: unknown = undefined
  ) {}

  on<T> (event: string, listener: Listener<T>): () => void {
    return this.events.on(event, listener)
  }

  /** Every file goes into a sandbox: the runner is the opt-in, whatever the file's environment. */
  async runTests (tests: Test[], watcher: TestWatcher, options: { serial: boolean }): Promise<void> {
    trace('run-tests', { tests: tests.length, serial: options.serial })
    if (tests.length === 0) return
    const jest = hostJest()
    await this.runSandboxed(jest, new Planner(jest), tests, watcher, options)
  }

  private async runSandboxed (jest: HostJest, planner: Planner, tests: Test[], watcher: TestWatcher, options: { serial: boolean }): Promise<void> {
    const core = await loadCore()
    trace('core-loaded')
    const { buildSnapshotResolver } = jest.coreRequire('jest-snapshot') as { buildSnapshotResolver: (config: unknown) => Promise<{ resolveSnapshotPath: (p: string) => string }> }
    const live = new LivePaths(this.globalConfig.updateSnapshot, buildSnapshotResolver)
    // Runner and project options are checked once, up front: a mistake there fails the run, not each file.
    const layersByProject = new Map<string, OptionLayer[]>()
    for (const test of tests) {
      const config = test.context.config
      if (layersByProject.has(config.id)) continue
      const layers = [runnerLayer(this.runnerOptions), projectLayer(config.testEnvironmentOptions, projectName(config))]
      mergeLayers(core, layers)
      warnMisplaced(core, config)
      layersByProject.set(config.id, layers)
    }
    const plans: Plan[] = []
    for (const test of tests) plans.push(await planner.plan(core, live, test, layersByProject.get(test.context.config.id) ?? []))
    trace('planned', { files: plans.length })
    const workerLive = new Map<string, Set<string>>()
    for (const plan of plans) {
      if (plan.isolation === 'file') continue
      const set = workerLive.get(plan.key) ?? new Set<string>()
      for (const p of plan.live) set.add(p)
      workerLive.set(plan.key, set)
    }
    const moduleMaps = new Map<string, unknown>()
    const projectPayload = (config: ProjectConfig, test: Test) => {
      if (!moduleMaps.has(config.id)) moduleMaps.set(config.id, test.context.moduleMap.toJSON())
      return { config, moduleMap: moduleMaps.get(config.id) }
    }
    // The configs and the module map go to every sandbox: encode them once per project.
    const prepared = new Map<string, string>()
    const prepareWire = (plan: Plan, warmUp: boolean, init: ChildInit): string => {
      const config = plan.test.context.config
      let payload = prepared.get(config.id)
      if (payload === undefined) {
        payload = encode({ globalConfig: this.globalConfig, project: projectPayload(config, plan.test) })
        prepared.set(config.id, payload)
      }
      return `{"type":"prepare","init":${JSON.stringify(init)},"testPath":${JSON.stringify(plan.test.path)},"warmUp":${String(warmUp)},${payload.slice(1)}`
    }
    const childEnv = this.childEnvironment(jest)
    // This package and Jest, wherever installed, and the project's module roots.
    const moduleBinds = new Map<string, ReadonlyBind[]>()
    const code = [PACKAGE_DIR, jest.runnerPath]
    const bindsFor = (config: ProjectConfig): ReadonlyBind[] => {
      let binds = moduleBinds.get(config.id)
      if (binds === undefined) {
        binds = core.hiddenModuleRoots(config, process.cwd(), code)
        moduleBinds.set(config.id, binds)
      }
      return binds
    }
    const runReport = new RunReport(core, this.globalConfig.rootDir)
    const lanesCount = options.serial ? 1 : Math.max(1, Math.min(this.globalConfig.maxWorkers, plans.length))

    const spawn = async (plan: Plan, ahead: boolean): Promise<SandboxChild> => {
      const { resolved, sandbox } = plan.options
      // A lane's sandbox ('state', 'worker') gets the live paths of every file it may run.
      const livePaths = plan.isolation === 'file' ? plan.live : [...(workerLive.get(plan.key) ?? [])]
      const facts: SandboxFacts = {
        hostname: resolved.hostname,
        isolation: plan.isolation,
        lane: 0,
        network: resolved.network,
        memoryBytes: resolved.memoryBytes ?? null,
        pids: resolved.pids ?? null,
        cpus: resolved.cpus ?? null,
        timeoutMs: resolved.timeoutMs ?? null,
        live: [...resolved.writable, ...livePaths],
        jestRunner: jest.runnerPath
      }
      const init: ChildInit = { facts, reuse: plan.isolation !== 'file', resets: plan.isolation === 'state' }
      const child = await SandboxChild.start(core, {
        ...sandbox,
        resettable: plan.isolation === 'state',
        writable: [...new Set([...(sandbox.writable ?? []), ...livePaths])],
        // Another root filesystem shows none of the host's: those binds would be the user's choice.
        bind: resolved.rootfs === 'host' ? [...(sandbox.bind ?? []), ...bindsFor(plan.test.context.config)] : sandbox.bind,
        entry: CHILD_ENTRY,
        execArgv: plainExecArgv(),
        env: childEnv,
        cwd: process.cwd(),
        ipc: true,
        serialization: 'json',
        stdio: ['ignore', 'pipe', 'pipe']
      }, plan.test.path, prepareWire(plan, ahead, init))
      child.projects.add(plan.test.context.config.id)
      return child
    }

    const lanes = new Lanes(plans, lanesCount, {
      spawn,
      runMessage: (plan, lane, child) => {
        const config = plan.test.context.config
        const message: Extract<HostMessage, { type: 'run' }> = {
          type: 'run',
          testPath: plan.test.path,
          configId: config.id,
          lane,
          context: {
            changedFiles: this.context.changedFiles === undefined ? undefined : [...this.context.changedFiles],
            sourcesRelatedToTestsInChangedFiles: this.context.sourcesRelatedToTestsInChangedFiles === undefined
              ? undefined
              : [...this.context.sourcesRelatedToTestsInChangedFiles]
          }
        }
        if (!child.projects.has(config.id)) {
          message.project = projectPayload(config, plan.test)
          child.projects.add(config.id)
        }
        runReport.running(child, plan)
        return message
      },
      fileStarted: (plan) => this.events.emit('test-file-start', [plan.test]),
      event: (name: TestEventName, args: unknown[]) => { void this.events.emit(name, args) },
      report: (plan, outcome, end, child) => {
        runReport.ended(child, end)
        return this.report(plan, outcome, end, child, watcher)
      },
      retired: (end, child) => { runReport.ended(child, end) },
      reportStartFailure: (plan, error) => this.fail(plan.test, failureOf(`${PREFIX}: the sandbox for this file could not start:\n${describeError(error)}`)),
      isInterrupted: () => watcher.isInterrupted()
    })
    const onChange = watcher.on('change', (state) => { if (state.interrupted) lanes.interrupt() })
    try {
      await lanes.run()
    } finally {
      if (typeof onChange === 'function') (onChange as () => void)()
      live.cleanUp()
    }
    // Jest has no end-of-run hook for a runner: the sandboxed files are done here.
    runReport.emit()
  }

  private childEnvironment (jest: HostJest): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env }
    delete env[FACTS_VARIABLE]
    if (env.FORCE_COLOR === undefined) {
      try {
        const chalk = jest.require('chalk') as { supportsColor?: { level: number } | false }
        if (chalk.supportsColor !== undefined && chalk.supportsColor !== false) env.FORCE_COLOR = String(chalk.supportsColor.level)
      } catch {
        // colourless output
      }
    }
    return env
  }

  private async report (plan: Plan, outcome: RunOutcome, end: SandboxEnd | undefined, child: SandboxChild | undefined, watcher: TestWatcher): Promise<void> {
    trace('report', { file: plan.test.path })
    if (watcher.isInterrupted()) return
    const verdict = end?.result?.reason === undefined ? undefined : end.result.message
    const note = verdict === undefined ? '' : `\n\n${PREFIX}: the sandbox reported: ${verdict}`
    const done = outcome.done
    if (done?.result !== undefined) {
      const result = done.result as TestResultLike
      if (note !== '' && ((result.numFailingTests ?? 0) > 0 || result.testExecError != null)) {
        result.failureMessage = `${result.failureMessage ?? ''}${note}`
      }
      await this.events.emit('test-file-success', [plan.test, result])
    } else if (done?.error !== undefined) {
      await this.fail(plan.test, { ...done.error, message: `${done.error.message}${note}` })
    } else if (end?.error !== undefined) {
      await this.fail(plan.test, failureOf(`${PREFIX}: the sandbox for this file could not start:\n${describeError(end.error)}`))
    } else if (verdict !== undefined) {
      await this.fail(plan.test, failureOf(`${PREFIX}: the test file's sandbox was stopped: ${verdict}`))
    } else {
      const how = end?.result?.signal == null ? `exit code ${String(end?.result?.code)}` : `signal ${end.result.signal}`
      const stderr = child?.stderr().trim() ?? ''
      await this.fail(plan.test, failureOf(`${PREFIX}: the Jest process in the sandbox ended (${how}) before it reported a result` +
        (stderr === '' ? '' : `; its last output:\n${stderr}`)))
    }
  }

  private async fail (test: Test, error: SerializedError): Promise<void> {
    await this.events.emit('test-file-failure', [test, error])
  }
}

export { NsSandboxRunner }
