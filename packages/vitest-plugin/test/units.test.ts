/**
 * The adapter's pure parts, without sandboxes: options, the exit mapping, the worker
 * protocol helpers, shared snapshot directories, the pre-spawned sandbox pool.
 *   node --import tsx --test packages/vitest-plugin/test/units.test.ts
 */
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import type { Sandbox, SandboxResult } from '@ns-sandbox/core'
import { splitOptions, validateOptions } from '../src/options.js'
import { carryToProjects, inlineProjectsInherit, listsProjectFiles } from '../src/projects.js'
import { fileUrlOf, isNotFound, SandboxImports } from '../src/sandbox-imports.js'
import { acquireDirectory } from '../src/snapshot-dirs.js'
import { fromResult, fromStartFailure } from '../src/termination.js'
import { WarmPool, type Warm } from '../src/warm-pool.js'
import { filesOf, isResponse, requestType, toError } from '../src/worker-messages.js'

describe('options', () => {
  test('core options are validated with their names; the plugin adds prespawn', () => {
    assert.throws(() => validateOptions({ memory: 'lots' }), /\[ns-sandbox\] nsSandbox\(\): .*option `memory`/)
    assert.throws(() => validateOptions({ network: 'wifi' }), /option `network`/)
    assert.throws(() => validateOptions({ colour: 'red' }), /unknown option `colour`/)
    assert.throws(() => validateOptions({ prespawn: 'yes' }), /option `prespawn`: expected true or false/)
    assert.throws(() => validateOptions({ writable: ['/no/such/dir/here'] }), /\/no\/such\/dir\/here does not exist/)
    assert.throws(() => validateOptions('512MiB'), /expected an object/)
    assert.equal(validateOptions({ memory: '512MiB', prespawn: false }).memoryBytes, 512 * 1024 * 1024)
  })

  test('report turns on the sandbox\'s report and is kept for the run', () => {
    assert.deepEqual(splitOptions({ report: 'json' }), { sandbox: { report: true }, prespawn: true, report: 'json' })
    assert.deepEqual(splitOptions({ report: true }).sandbox, { report: true })
  })

  test('prespawn is on by default, off when asked or when a timeout runs from the spawn', () => {
    assert.deepEqual(splitOptions({ memory: '1GiB' }), { sandbox: { memory: '1GiB' }, prespawn: true, report: false })
    assert.equal(splitOptions({ prespawn: false }).prespawn, false)
    assert.equal(splitOptions({ timeout: '30s' }).prespawn, false)
  })
})

describe('termination', () => {
  const result = (extra: Partial<SandboxResult>): SandboxResult => ({ code: null, signal: 'SIGKILL', durationMs: 1, ...extra })

  test('a crash is the worker\'s own exit', () => {
    assert.deepEqual(fromResult(result({}), ['/a.test.ts']), { kind: 'exit', code: null, signal: 'SIGKILL' })
    assert.deepEqual(fromResult(result({ code: 3, signal: null }), []), { kind: 'exit', code: 3, signal: null })
  })

  test('a limit is an error naming it and the file', () => {
    const ended = fromResult(result({ reason: 'oom', message: 'memory limit 64 MiB exceeded (OOM kill)' }), ['/a.test.ts'])
    assert.equal(ended.kind, 'error')
    assert.equal(ended.kind === 'error' && ended.error.message,
      '[ns-sandbox] memory limit 64 MiB exceeded (OOM kill): the sandbox of test file /a.test.ts was ended (worker exited with signal SIGKILL)')
    assert.equal(ended.kind === 'error' && ended.limit, 'memory limit 64 MiB exceeded (OOM kill): the sandbox of this test file was ended')
  })

  test('a start failure carries the diagnosis', () => {
    const failed = fromStartFailure(new Error('no unshare'), ['/a.test.ts', '/b.test.ts'])
    assert.match(failed.kind === 'error' ? failed.error.message : '', /test files \/a\.test\.ts, \/b\.test\.ts could not start, so it was not run:\nno unshare/)
  })
})

describe('worker messages', () => {
  test('requests, responses, files, errors', () => {
    assert.equal(requestType({ __vitest_worker_request__: true, type: 'run' }), 'run')
    assert.equal(requestType({ t: 'q', m: 'fetch' }), undefined)
    assert.ok(isResponse({ __vitest_worker_response__: true, type: 'started' }, 'started'))
    assert.ok(!isResponse({ type: 'started' }, 'started'))
    const run = { __vitest_worker_request__: true, type: 'run', context: { files: [{ filepath: '/x.test.ts' }] } }
    assert.deepEqual(filesOf(run as never), ['/x.test.ts'])
    assert.equal(toError({ message: 'boom', stack: 'Error: boom\n at x' }, 'pre: ').message, 'pre: boom')
  })
})

describe('snapshot directories', () => {
  test('created for the sandboxes that need it, removed by the last one if still empty', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-units-'))
    try {
      const dir = path.join(base, 'deep', '__snapshots__')
      const first = acquireDirectory(dir)
      const second = acquireDirectory(dir)
      assert.ok(fs.existsSync(dir))
      first?.()
      assert.ok(fs.existsSync(dir), 'still used by the second sandbox')
      second?.()
      assert.ok(!fs.existsSync(path.join(base, 'deep')), 'removed up to the directory mkdir created')

      const kept = acquireDirectory(dir)
      fs.writeFileSync(path.join(dir, 'a.snap'), 'x')
      kept?.()
      assert.ok(fs.existsSync(path.join(dir, 'a.snap')), 'a written snapshot stays')

      const existing = acquireDirectory(dir)
      existing?.()
      assert.ok(fs.existsSync(dir), 'a directory that was there is never removed')
    } finally {
      fs.rmSync(base, { recursive: true, force: true })
    }
  })
})

describe('pre-spawned sandboxes', () => {
  function fakeWarm (writable: string[]): Warm & { destroyed: () => boolean } {
    let end: (value: SandboxResult) => void = () => {}
    let destroyed = false
    const sandbox = Object.assign(new EventEmitter(), {
      result: new Promise<SandboxResult>((resolve) => { end = resolve }),
      destroy: () => { destroyed = true; end({ code: null, signal: 'SIGKILL', durationMs: 1 }) }
    }) as unknown as Sandbox
    return { sandbox, live: { writable, release: () => {} }, destroyed: () => destroyed }
  }

  test('taken only by a file whose live paths it covers, once; ended on close', async () => {
    const pool = new WarmPool()
    const warm = fakeWarm(['/p/tests/__snapshots__'])
    pool.prepare('k', 1, async () => warm)
    pool.prepare('k', 1, async () => { throw new Error('capacity 1: not called') })
    assert.equal(await pool.take('other', []), undefined, 'another key')
    assert.equal(await pool.take('k', ['/p/tests/inline.test.ts']), undefined, 'does not cover an inline snapshot file')
    assert.equal(await pool.take('k', ['/p/tests/__snapshots__']), warm, 'covers')
    assert.equal(await pool.take('k', []), undefined, 'taken once')

    const idle = fakeWarm([])
    pool.prepare('k', 1, async () => idle)
    await new Promise((resolve) => setImmediate(resolve))
    await pool.close()
    assert.ok(idle.destroyed(), 'a waiting sandbox ends with Vitest')
    assert.ok(!warm.destroyed(), 'a taken one is its worker\'s')
    pool.prepare('k', 1, async () => { throw new Error('closed: not called') })
  })
})

describe('projects', () => {
  const plugin = (): { name: string } => ({ name: 'ns-sandbox' })
  const pluginsOf = (project: unknown): unknown => (project as { plugins?: unknown }).plugins

  test('Vitest 4: every inline project without extends: true gets the plugin; files and projects with one are left', async () => {
    const own = { extends: false, plugins: [[{ name: 'ns-sandbox' }]], test: { name: 'own' } }
    const carried = carryToProjects([
      { test: { name: 'a' } }, { extends: true, test: { name: 'b' } }, { extends: false, plugins: [{ name: 'x' }] },
      { extends: './other.config.js' }, own, 'packages/*'
    ], plugin, false)
    assert.deepEqual(pluginsOf(carried[0]), [{ name: 'ns-sandbox' }])
    assert.equal(pluginsOf(carried[1]), undefined)
    assert.deepEqual(pluginsOf(carried[2]), [{ name: 'x' }, { name: 'ns-sandbox' }])
    assert.deepEqual(pluginsOf(carried[3]), [{ name: 'ns-sandbox' }])
    assert.equal(carried[4], own)
    assert.equal(carried[5], 'packages/*')
  })

  test('Vitest 5: inline projects inherit unless extends is false or a file; functions and promises are followed', async () => {
    const carried = carryToProjects([{ test: { name: 'a' } }, { extends: false }, async () => ({ extends: false }), Promise.resolve({ test: {} })], plugin, true)
    assert.equal(pluginsOf(carried[0]), undefined)
    assert.deepEqual(pluginsOf(carried[1]), [{ name: 'ns-sandbox' }])
    assert.deepEqual(pluginsOf(await (carried[2] as () => Promise<unknown>)()), [{ name: 'ns-sandbox' }])
    assert.equal(pluginsOf(await carried[3]), undefined)
  })

  test('which Vitest inherits, and which configs list project files', () => {
    assert.equal(inlineProjectsInherit([{ name: 'ns-sandbox' }, [{ name: 'vitest:capture-raw-test-config' }]]), true)
    assert.equal(inlineProjectsInherit([{ name: 'vitest' }, false]), false)
    assert.equal(listsProjectFiles([{ test: {} }]), false)
    assert.equal(listsProjectFiles([{ test: {} }, 'packages/*']), true)
  })
})

describe('modules only the sandbox has', () => {
  test('file paths and URLs are followed; bare and virtual ids are not', () => {
    assert.equal(fileUrlOf('file:///tmp/x/a.mjs?t=1', undefined), 'file:///tmp/x/a.mjs?t=1')
    assert.equal(fileUrlOf('/tmp/x/a b.ts?v=2', undefined), 'file:///tmp/x/a%20b.ts?v=2')
    assert.equal(fileUrlOf('/@fs/tmp/x/a.js', undefined), 'file:///tmp/x/a.js')
    assert.equal(fileUrlOf('./dep.mjs', '/tmp/x/a.mjs'), 'file:///tmp/x/dep.mjs')
    assert.equal(fileUrlOf('./dep.mjs', undefined), undefined)
    assert.equal(fileUrlOf('vitest', '/tmp/x/a.mjs'), undefined)
    assert.equal(fileUrlOf('/@vite/client', undefined), undefined)
  })

  test('only "not found" falls back: a compile error is the main process\'s answer', () => {
    assert.equal(isNotFound(Object.assign(new Error('Failed to load url /tmp/x.mjs (resolved id: /tmp/x.mjs)'), { code: 'ERR_LOAD_URL' })), true)
    assert.equal(isNotFound(new Error("Cannot find module '/tmp/x.mjs'")), true)
    assert.equal(isNotFound(new SyntaxError('Unexpected token')), false)
    assert.equal(isNotFound(undefined), false)
  })

  test('the main process\'s "not found" for a fetch becomes an externalized module; other answers pass', () => {
    const imports = new SandboxImports()
    imports.noteRequest({ t: 'q', m: 'fetch', i: 'a', a: ['/tmp/x/config.mjs', '/app/a.test.ts', '__vitest__'] })
    imports.noteRequest({ t: 'q', m: 'fetch', i: 'b', a: ['/app/src/math.ts', '/app/a.test.ts', '__vitest__'] })
    imports.noteRequest({ t: 'q', m: 'onCollected', a: [] })
    const notFound = Object.assign(new Error('Failed to load url /tmp/x/config.mjs'), { code: 'ERR_LOAD_URL' })
    assert.deepEqual(imports.rewrite({ t: 's', i: 'a', e: notFound }), { t: 's', i: 'a', r: { externalize: 'file:///tmp/x/config.mjs', type: 'module' } })
    const compiled = { t: 's', i: 'b', r: { code: 'export {}' } }
    assert.equal(imports.rewrite(compiled), compiled)
    const again = { t: 's', i: 'a', e: notFound }
    assert.equal(imports.rewrite(again), again, 'an answer is rewritten once')
    const start = { __vitest_worker_request__: true, type: 'start' }
    assert.equal(imports.rewrite(start), start)
  })
})
