/**
 * Which directories the adapters bind read-only into a sandbox because a fresh /tmp
 * would hide them: a workspace under /tmp, the runner run from one of its packages.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, test } from 'node:test'
import { hiddenModuleRoots } from '../src/host/module-roots.js'

const base = fs.mkdtempSync('/tmp/nsb-module-roots-')
after(() => { fs.rmSync(base, { recursive: true, force: true }) })

const ws = path.join(base, 'ws')
const app = path.join(ws, 'packages', 'app')
for (const dir of ['node_modules/jest-runner/build', 'node_modules/@scope', 'packages/app/node_modules', 'packages/lib', 'packages/other']) {
  fs.mkdirSync(path.join(ws, dir), { recursive: true })
}
fs.writeFileSync(path.join(ws, 'package.json'), '{}')
fs.writeFileSync(path.join(ws, 'node_modules/jest-runner/build/index.js'), '')
fs.symlinkSync('../../packages/lib', path.join(ws, 'node_modules/@scope/lib'))
fs.symlinkSync('../packages/app', path.join(ws, 'node_modules/app'))
const runner = path.join(ws, 'node_modules/jest-runner/build/index.js')

const sources = (binds: Array<{ source: string, target: string, readonly: boolean }>): string[] => {
  for (const bind of binds) assert.equal(bind.target, bind.source)
  assert.ok(binds.every((bind) => bind.readonly))
  return binds.map((bind) => bind.source)
}

test('rootDir = cwd: the hoisted node_modules (Jest in it) and the workspace package it links to; nothing below the cwd', () => {
  assert.deepEqual(sources(hiddenModuleRoots({ rootDir: app }, app, [runner])), [path.join(ws, 'node_modules'), path.join(ws, 'packages', 'lib')])
})

test('rootDir above the cwd: what lies beside the way down to the cwd, so the cwd keeps its copy-on-write view', () => {
  assert.deepEqual(sources(hiddenModuleRoots({ rootDir: ws }, app, [])).sort(),
    ['node_modules', 'package.json', 'packages/lib', 'packages/other'].map((p) => path.join(ws, p)))
})

test('roots, modulePaths and code elsewhere under /tmp come back; paths outside the fresh areas and missing ones do not', () => {
  const elsewhere = path.join(base, 'shared')
  fs.mkdirSync(elsewhere)
  assert.deepEqual(sources(hiddenModuleRoots({ rootDir: app, roots: [app], modulePaths: [elsewhere, path.join(base, 'missing')] }, app, [fs.realpathSync('/usr/bin/env')])),
    [elsewhere, path.join(ws, 'node_modules'), path.join(ws, 'packages', 'lib')])
})
