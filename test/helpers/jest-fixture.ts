/**
 * Runs Jest (29 or 30) on a private copy of fixtures/jest-app and inspects what it left
 * on the host. Every run gets its own marker, which names each host path and process
 * the fixture's files touch, so runs never see each other's leftovers.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Identity } from './identity.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const FIXTURE = path.join(ROOT, 'fixtures', 'jest-app')

export interface JestVersion {
  name: 'jest29' | 'jest30'
  bin: string
  /** jest-runner's main module, which the sandboxes must load. */
  runner: string
}

/** The Jest installed in this node_modules directory. */
export function jestAt (name: JestVersion['name'], nodeModules: string): JestVersion {
  const bin = path.join(nodeModules, 'jest', 'bin', 'jest.js')
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} is missing: run \`npm ci\` at the repository root (its postinstall installs fixtures/runners/*)`)
  }
  return { name, bin, runner: fs.realpathSync(path.join(nodeModules, 'jest-runner', 'build', 'index.js')) }
}

export const JEST30 = (): JestVersion => jestAt('jest30', path.join(ROOT, 'node_modules'))
export const JEST29 = (): JestVersion => jestAt('jest29', path.join(ROOT, 'fixtures', 'runners', 'jest29', 'node_modules'))

export interface FixtureCopy {
  dir: string
  marker: string
  port: number
  remove: () => void
}

/** A free TCP port on the host (the fixture listens on it: 3000 would collide with whatever else runs here). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => { resolve(port) })
    })
  })
}

/** Copy the fixture (without generated files) next to a node_modules link, owned by `owner`. */
export async function copyFixture (owner?: Identity, extra: Record<string, string> = {}, from = FIXTURE): Promise<FixtureCopy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-jest-e2e-'))
  fs.cpSync(from, dir, {
    recursive: true,
    filter: (source) => !/[\\/](__snapshots__|coverage|node_modules)$/.test(source)
  })
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
  for (const [file, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, file), text)
  if (owner !== undefined && owner.uid !== 0) {
    fs.chmodSync(dir, 0o755)
    execFileSync('chown', ['-R', '--no-dereference', `${owner.uid}:${owner.gid}`, dir])
  }
  return {
    dir,
    marker: `nsb-jest-${crypto.randomBytes(4).toString('hex')}`,
    port: await freePort(),
    remove: () => { fs.rmSync(dir, { recursive: true, force: true }) }
  }
}

export interface FileResult {
  name: string
  status: string
  message: string
  tests: Array<{ title: string, status: string, failureMessages: string[] }>
}

export interface JestRun {
  code: number | null
  output: string
  json: {
    success: boolean
    numTotalTestSuites: number
    numFailedTestSuites: number
    numPassedTestSuites: number
    snapshot: { added: number, updated: number, matched: number, unmatched: number, filesAdded: number }
  }
  /** By path relative to the fixture, e.g. `app/identity.test.js`. */
  files: Map<string, FileResult>
}

export interface RunOptions {
  jest: JestVersion
  fixture: FixtureCopy
  identity: Identity
  mode?: 'sandbox' | 'stock' | 'env-only' | 'runner'
  args?: string[]
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
}

export function fixtureEnv (options: Pick<RunOptions, 'jest' | 'fixture' | 'identity' | 'mode' | 'env'>): NodeJS.ProcessEnv {
  return {
    ...options.identity.env,
    HOME: options.identity.home,
    NSB_JEST_MODE: options.mode ?? 'sandbox',
    NSB_JEST_MARKER: options.fixture.marker,
    NSB_JEST_PORT: String(options.fixture.port),
    NSB_EXPECT_JEST_RUNNER: options.jest.runner,
    ...options.env
  }
}

/** Run Jest with --json as a subprocess (as `identity`), and read its report. */
export async function runJest (options: RunOptions): Promise<JestRun> {
  const out = path.join(options.fixture.dir, `result-${crypto.randomBytes(3).toString('hex')}.json`)
  const command = options.identity.wrap(process.execPath, [options.jest.bin, '--json', `--outputFile=${out}`, ...(options.args ?? [])])
  const child = spawn(command.file, command.args, {
    cwd: options.fixture.dir,
    env: fixtureEnv(options),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 150_000)
  const code = await new Promise<number | null>((resolve) => { child.on('close', (status) => { resolve(status) }) })
  clearTimeout(timer)
  if (!fs.existsSync(out)) throw new Error(`Jest wrote no report (exit ${String(code)}):\n${output}`)
  const json = JSON.parse(fs.readFileSync(out, 'utf8')) as JestRun['json'] & {
    testResults: Array<{ name: string, status: string, message: string, assertionResults: Array<{ title: string, status: string, failureMessages: string[] }> }>
  }
  fs.rmSync(out)
  const files = new Map<string, FileResult>()
  for (const result of json.testResults) {
    files.set(path.relative(options.fixture.dir, result.name), {
      name: result.name,
      status: result.status,
      message: result.message,
      tests: result.assertionResults.map((t) => ({ title: t.title, status: t.status, failureMessages: t.failureMessages }))
    })
  }
  return { code, output, json, files }
}

/** What the fixture's side effects left on the host: paths, processes, a listening port. */
export function leftovers (fixture: FixtureCopy, home: string): string[] {
  const found: string[] = []
  for (const p of [`/tmp/${fixture.marker}`, path.join(home, '.config', fixture.marker), `/etc/${fixture.marker}.conf`]) {
    if (fs.existsSync(p)) found.push(p)
  }
  for (const pid of markedProcesses(fixture.marker)) found.push(`process ${pid}`)
  if (listening(fixture.port)) found.push(`a listener on port ${fixture.port}`)
  return found
}

export function markedProcesses (marker: string): number[] {
  const result = spawnSync('pgrep', ['-f', `${marker}-detached`], { encoding: 'utf8' })
  return result.stdout.split('\n').filter((line) => line.trim() !== '').map(Number).filter((pid) => pid !== process.pid)
}

/** Is anything listening on this TCP port in the host's network namespace? */
export function listening (port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = fs.readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields[1]?.endsWith(`:${hex}`) === true && fields[3] === '0A') return true
    }
  }
  return false
}

/** Remove what a stock (unsandboxed) run left on the host: exactly the marked paths and processes. */
export function cleanUpHost (fixture: FixtureCopy, home: string): void {
  for (const pid of markedProcesses(fixture.marker)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  for (const p of [`/tmp/${fixture.marker}`, path.join(home, '.config', fixture.marker), `/etc/${fixture.marker}.conf`]) {
    fs.rmSync(p, { recursive: true, force: true })
  }
}

/** `file > test` -> status (with the failure when not passed), and a file's own failure when it ran no test. */
export function outcomesOf (run: JestRun): Array<[string, string]> {
  const found = new Map<string, string>()
  for (const [file, result] of run.files) {
    if (result.tests.length === 0) found.set(file, `${result.status}: ${result.message}`)
    for (const t of result.tests) found.set(`${file} > ${t.title}`, t.status === 'passed' ? 'passed' : `${t.status}: ${t.failureMessages.join('\n')}`)
  }
  return [...found].sort(([a], [b]) => a.localeCompare(b))
}

export function statusOf (run: JestRun, file: string): string {
  const result = run.files.get(file)
  if (result === undefined) throw new Error(`no result for ${file}; files: ${[...run.files.keys()].join(', ')}\n${run.output}`)
  return result.status
}

export function messageOf (run: JestRun, file: string): string {
  const result = run.files.get(file)
  if (result === undefined) throw new Error(`no result for ${file}; files: ${[...run.files.keys()].join(', ')}`)
  // eslint-disable-next-line no-control-regex
  return result.message.replace(/\u001b\[[0-9;]*m/g, '')
}

/**
 * Two identical test files for isolation 'state' (issue #18): each first checks that
 * nothing another file left is there (a /tmp and a /dev/shm file, a file in the project,
 * read through a relative path, so a cwd left in the old tree would show it; a detached
 * process; the port that process listens on), then leaves all of it. Each names in its
 * last test's title a token kept on a builtin module (Jest gives every file a fresh module
 * registry, but builtins are the process's own): equal tokens mean one warm process ran
 * both files. Written into the app project as app/state-a.test.js and app/state-b.test.js.
 */
const STATE_CHECK = `import { expect, test } from '@jest/globals'
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import { MARKER, PORT } from './helpers'

const KEY = Symbol.for('ns-sandbox-e2e-process-token')
os[KEY] ??= crypto.randomBytes(6).toString('hex')
const LEFT = ['/tmp/' + MARKER, '/dev/shm/' + MARKER, MARKER + '-left']
const ours = () => fs.readdirSync('/proc').filter((pid) => /^[0-9]+$/.test(pid) && pid !== String(process.pid)).filter((pid) => {
  try { return fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').includes(MARKER + '-detached') } catch { return false }
})
const portFree = () => new Promise((resolve) => {
  const probe = net.createServer().once('error', () => resolve(false)).listen(PORT, '127.0.0.1', () => probe.close(() => resolve(true)))
})

test('finds nothing an earlier file left: files, processes, ports', async () => {
  expect({ files: LEFT.filter((p) => fs.existsSync(p)), processes: ours(), portFree: await portFree() })
    .toEqual({ files: [], processes: [], portFree: true })
})

test('leaves files, a process and its port behind', async () => {
  for (const p of LEFT) fs.writeFileSync(p, 'left by ' + expect.getState().testPath)
  const code = 'require("node:net").createServer().listen(' + PORT + ', "127.0.0.1"); setInterval(() => {}, 1000)'
  spawn(process.execPath, ['-e', code, MARKER + '-detached'], { detached: true, stdio: 'ignore' }).unref()
  for (let i = 0; i < 200 && await portFree(); i++) await new Promise((resolve) => setTimeout(resolve, 25))
  expect({ processes: ours().length, portFree: await portFree() }).toEqual({ processes: 1, portFree: false })
})

test('process token ' + os[KEY], () => {})
`

export const STATE_FILES: Record<string, string> = { 'app/state-a.test.js': STATE_CHECK, 'app/state-b.test.js': STATE_CHECK }

/** The state files' outcome: both passed, and the process tokens their titles carry (equal: one process ran both). */
export function stateCheck (run: JestRun, fixture: FixtureCopy): { failures: string[], tokens: string[], leftInProject: boolean } {
  const failures: string[] = []
  const tokens: string[] = []
  for (const file of Object.keys(STATE_FILES)) {
    const result = run.files.get(file)
    if (result === undefined) {
      failures.push(`${file}: no result`)
      continue
    }
    for (const t of result.tests) {
      if (t.status !== 'passed') failures.push(`${file} > ${t.title}: ${t.failureMessages.join('\n')}`)
      const token = /^process token (\S+)$/.exec(t.title)?.[1]
      if (token !== undefined) tokens.push(token)
    }
  }
  return { failures, tokens, leftInProject: fs.existsSync(path.join(fixture.dir, `${fixture.marker}-left`)) }
}

/** A package of this repository, as its `files` ship it (as npm installs it). */
export function installPackage (from: string, to: string, files: string[]): void {
  fs.mkdirSync(to, { recursive: true })
  for (const file of ['package.json', ...files]) fs.cpSync(path.join(ROOT, from, file), path.join(to, file), { recursive: true })
}

/**
 * A copy of a workspace fixture under /tmp (a fresh tmpfs in every sandbox), owned by
 * `owner`, with node_modules hoisted to its root: a hard-linked copy of the
 * repository's (a real tree under /tmp in a fraction of a second; never chowned, the
 * links share the repository's inodes). The caller installs this repository's packages.
 */
export function workspaceUnderTmp (fixture: string, owner: Identity): { root: string, nodeModules: string, remove: () => void } {
  const root = fs.mkdtempSync(path.join('/tmp', `nsb-${path.basename(fixture)}-`))
  fs.cpSync(fixture, root, { recursive: true })
  if (owner.uid !== 0) execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, root])
  fs.chmodSync(root, 0o755)
  const nodeModules = path.join(root, 'node_modules')
  execFileSync('cp', ['-al', path.join(ROOT, 'node_modules'), nodeModules])
  return { root, nodeModules, remove: () => { fs.rmSync(root, { recursive: true, force: true }) } }
}

