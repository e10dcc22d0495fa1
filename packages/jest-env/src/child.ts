/**
 * The Jest child: the module core imports inside the sandbox (PID 2). It loads the
 * host's Jest (the jest-runner the runner found), rebuilds each project's resolver
 * from the serialized module map as Jest's own worker does, and runs each file with
 * the stock in-band path: `new TestRunner(globalConfig, context).runTests([test],
 * watcher, { serial: true })`. Per-test events and the file's result go back over IPC.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import {
  FACTS_VARIABLE, decode, encode, serializeError,
  type ChildInit, type ChildMessage, type HostMessage, type ProjectPayload, type RunContext, type TestEventName
} from './protocol'
import { enableCompileCache, flushCompileCache } from './compile-cache'
import { interop } from './jest-host'

interface Unsubscribe { (): void }
interface InBandRunner {
  runTests: (tests: unknown[], watcher: unknown, options: { serial: boolean }) => Promise<void>
  on: (event: string, listener: (args: unknown[]) => void) => Unsubscribe
}
type RunnerClass = new (globalConfig: unknown, context: unknown) => InBandRunner
interface ProjectConfig { id: string, resolver?: string | null, testEnvironment: string, testRunner: string }
interface Project { config: ProjectConfig, moduleMap: unknown, resolver: unknown }

const bootMs = Math.round(process.uptime() * 1000)
/** Where the sandbox started this process (the project's directory). */
const startCwd = process.cwd()
/** The cwd a file left, as a path: after a reset (isolation 'state') it is entered again in the new tree. */
let cwd = startCwd
const projects = new Map<string, Project>()
let globalConfig: unknown
/** From the first `prepare` message (see ChildInit: argv stays as a stock worker's). */
let init: ChildInit
let jestRequire: NodeJS.Require

/**
 * Every sandbox's Jest child is PID 2, and write-file-atomic (how @jest/transform writes
 * its cache) names its temp file from the pid, the thread id and a per-process counter:
 * two sandboxes writing the same cache entry at once would share one temp file, and one
 * of the renames fails the file ("jest: failed to cache transform results"). The copy
 * @jest/transform uses gets a writer whose temp names are this process's own.
 */
function separateCacheWrites (): void {
  let writer: { sync?: unknown }
  try {
    writer = createRequire(jestRequire.resolve('@jest/transform'))('write-file-atomic') as { sync?: unknown }
  } catch {
    return
  }
  const token = crypto.randomBytes(8).toString('hex')
  let count = 0
  writer.sync = (file: string, data: string | Uint8Array, options?: string | { encoding?: BufferEncoding, mode?: number }): void => {
    const settings = typeof options === 'string' ? { encoding: options as BufferEncoding } : options ?? {}
    const temporary = `${file}.${token}.${++count}`
    try {
      fs.writeFileSync(temporary, data, { encoding: settings.encoding ?? 'utf8', mode: settings.mode })
      fs.renameSync(temporary, file)
    } catch (error) {
      fs.rmSync(temporary, { force: true })
      throw error
    }
  }
}

function setLane (lane: number): void {
  process.env.JEST_WORKER_ID = String(lane)
  process.env[FACTS_VARIABLE] = JSON.stringify({ ...init.facts, lane })
}

function start (received: ChildInit): void {
  init = received
  jestRequire = createRequire(init.facts.jestRunner)
  separateCacheWrites()
  setLane(init.facts.lane)
}

function send (message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) {
      resolve()
      return
    }
    process.send(encode(message), undefined, {}, () => { resolve() })
  })
}

async function addProject (payload: ProjectPayload): Promise<Project> {
  const config = payload.config as ProjectConfig
  const known = projects.get(config.id)
  if (known !== undefined) return known
  const HasteMap = interop<{ getStatic: (config: unknown) => { getModuleMapFromJSON: (json: unknown) => unknown } }>(jestRequire('jest-haste-map'))
  const Runtime = interop<{ createResolver: (config: unknown, moduleMap: unknown) => unknown }>(jestRequire('jest-runtime'))
  const { preloadResolver } = jestRequire('jest-resolve') as { preloadResolver?: (path: string | null | undefined) => Promise<void> }
  // Jest >= 30.5 loads a custom resolver ahead, while awaiting is still possible.
  if (typeof preloadResolver === 'function') await preloadResolver(config.resolver)
  const moduleMap = HasteMap.getStatic(config).getModuleMapFromJSON(payload.moduleMap)
  const project: Project = { config, moduleMap, resolver: Runtime.createResolver(config, moduleMap) }
  projects.set(config.id, project)
  return project
}

/**
 * Warm up while the previous file still runs: load the project's transforms,
 * environment and test framework, then run a one-line test file of ours (in this
 * sandbox's fresh /tmp) through the same in-band path. That first run is where a fresh
 * Jest process spends most of its time (babel and its presets, jest-circus, expect,
 * jest-snapshot); the real file then runs like a warm worker's next file. The
 * project's setup files are left out: no user code runs before the real file.
 */
const WARMUP_FILE = '/tmp/ns-sandbox-jest-warmup.test.js'

async function prepare (message: Extract<HostMessage, { type: 'prepare' }>): Promise<void> {
  const started = performance.now()
  if (jestRequire === undefined) start(message.init)
  globalConfig = message.globalConfig
  const { cacheDirectory } = message.project.config as { cacheDirectory?: string }
  if (typeof cacheDirectory === 'string') enableCompileCache(cacheDirectory)
  const project = await addProject(message.project)
  if (message.warmUp) {
    try {
      fs.writeFileSync(WARMUP_FILE, "test('warm-up', () => { expect(1).toBe(1) })\n")
      const config = { ...project.config, setupFiles: [], setupFilesAfterEnv: [], globalSetup: null, globalTeardown: null }
      await runInBand({ ...project, config }, WARMUP_FILE, {}, () => {})
    } catch {
      // Only a warm-up: the real run reports whatever is wrong.
    } finally {
      fs.rmSync(WARMUP_FILE, { force: true })
    }
  } else {
    // Needed now: load just what every file needs and let the file itself load the rest.
    interop<RunnerClass>(jestRequire(init.facts.jestRunner))
  }
  await send({ type: 'warm', bootMs, loadMs: Math.round(performance.now() - started) })
}

function exit (code: number): never {
  flushCompileCache()
  process.exit(code)
}

const watcher = { isInterrupted: (): boolean => false, on: (): Unsubscribe => () => {} }

function asSet (list: string[] | undefined): Set<string> | undefined {
  return list === undefined ? undefined : new Set(list)
}

type Outcome = Pick<Extract<ChildMessage, { type: 'done' }>, 'result' | 'error'>

/** One file through jest-runner's stock in-band path. */
async function runInBand (project: Project, testPath: string, context: RunContext,
  forward: (name: TestEventName, args: unknown[]) => void, lane?: number): Promise<Outcome> {
  const TestRunner = interop<RunnerClass>(jestRequire(init.facts.jestRunner))
  const runner = new TestRunner(globalConfig, {
    changedFiles: asSet(context.changedFiles),
    sourcesRelatedToTestsInChangedFiles: asSet(context.sourcesRelatedToTestsInChangedFiles)
  })
  let outcome: Outcome = {}
  if (lane !== undefined) runner.on('test-file-start', () => { setLane(lane) })
  runner.on('test-file-success', (args) => { outcome = { result: args[1] } })
  runner.on('test-file-failure', (args) => { outcome = { error: serializeError(args[1]) } })
  runner.on('test-case-start', (args) => { forward('test-case-start', args) })
  runner.on('test-case-result', (args) => { forward('test-case-result', args) })
  const test = { path: testPath, context: { config: project.config, moduleMap: project.moduleMap, resolver: project.resolver } }
  try {
    const running = runner.runTests([test], watcher, { serial: true })
    // The in-band path sets JEST_WORKER_ID=1 synchronously: give the file its lane's id.
    if (lane !== undefined) setLane(lane)
    await running
  } catch (error) {
    outcome = { error: serializeError(error) }
  }
  if (outcome.result === undefined && outcome.error === undefined) {
    outcome = { error: { message: 'jest-runner reported neither a result nor an error for this file', type: 'Error' } }
  }
  return outcome
}

/**
 * Isolation 'state': the reset moved this process's root into the sandbox's new tree, but
 * not its cwd, which still holds the old tree. Enter the same path in the new tree, as a
 * warm stock worker's next file would find it; a directory the last file created is gone
 * with its state, then the start directory.
 */
function enterNewTree (): void {
  try {
    process.chdir(cwd)
  } catch {
    process.chdir(startCwd)
  }
}

async function run (message: Extract<HostMessage, { type: 'run' }>): Promise<void> {
  const started = performance.now()
  if (init.resets) enterNewTree()
  const project = message.project === undefined ? projects.get(message.configId) : await addProject(message.project)
  if (project === undefined) throw new Error(`jest-environment-ns-sandbox: no project ${message.configId} was sent to the sandbox`)
  const outcome = await runInBand(project, message.testPath, message.context,
    (name, args) => { void send({ type: 'event', name, args }) }, message.lane)
  // Before `done`: the host resets the state as soon as it has it.
  if (init.resets) cwd = currentDirectory()
  await send({ type: 'done', testPath: message.testPath, ...outcome, runMs: Math.round(performance.now() - started) })
  if (!init.reuse) exit(0)
}

function currentDirectory (): string {
  try {
    return process.cwd()
  } catch {
    return startCwd
  }
}

let queue: Promise<void> = Promise.resolve()

process.on('message', (wire: unknown) => {
  const message = decode<HostMessage>(wire)
  if (message === undefined) return
  queue = queue.then(async () => {
    if (message.type === 'prepare') await prepare(message)
    else if (message.type === 'run') await run(message)
    else if (message.type === 'end') exit(0)
  }).catch(async (error: unknown) => {
    const testPath = message.type === 'run' ? message.testPath : ''
    await send({ type: 'done', testPath, error: serializeError(error) })
    process.exit(1)
  })
})

// The host went away: nothing left to report to.
process.on('disconnect', () => { process.exit(0) })

process.on('uncaughtException', (error) => {
  process.stderr.write(`jest-environment-ns-sandbox: uncaught exception in the sandbox's Jest child:\n${error.stack ?? String(error)}\n`)
  process.exit(1)
})
